import { type Arg, argValue, isSupportedType, type TaskResult, toResult } from './arg.js';
import { errorText, MachineryError } from './errors.js';
import { isTuple } from './task.js';
import type { AnyTaskDefinition } from './task-registry.js';

const NO_RESULTS: readonly TaskResult[] = Object.freeze([]);

/**
 * The JavaScript arguments for `task` from a message's wire arguments, by Go's conversion rules, after
 * checking them against the task's declared `argTypes`.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` naming the argument that cannot be converted; such a
 * task fails at once, as a retry would meet the same arguments.
 */
export function taskArguments(args: readonly Arg[] | null, task: AnyTaskDefinition): unknown[] {
  const list = args ?? [];
  const expected = task.options.argTypes;
  if (expected) {
    if (expected.length !== list.length) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `expected ${expected.length} arguments, got ${list.length}`,
      );
    }
    for (let i = 0; i < list.length; i++) {
      const type = (list[i] as Arg).type;
      if (type !== expected[i]) {
        throw new MachineryError(
          'ERR_INVALID_ARGUMENT',
          `argument ${i + 1} has type ${type}, expected ${expected[i]}`,
        );
      }
    }
  }
  const values = new Array<unknown>(list.length);
  for (let i = 0; i < list.length; i++) {
    const arg = list[i] as Arg;
    if (!isSupportedType(arg.type)) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `argument ${i + 1}: ${arg.type} is not one of supported types`,
      );
    }
    try {
      values[i] = argValue(arg);
    } catch (err) {
      throw new MachineryError('ERR_INVALID_ARGUMENT', `argument ${i + 1}: ${errorText(err)}`);
    }
  }
  return values;
}

/**
 * The results to store for a task's return value: none for `undefined`, one per value of a `tuple()`,
 * else one.
 * @throws MachineryError `ERR_ENCODE` when a value cannot be written in Machinery's format.
 */
export function taskResults(value: unknown): readonly TaskResult[] {
  if (value === undefined) return NO_RESULTS;
  if (isTuple(value)) return value.values.map(toResult);
  return [toResult(value)];
}

/** A stored result as an argument of a callback (Go appends results to `onSuccess` and chord callbacks). */
export function resultToArg(result: TaskResult): Arg {
  return { name: '', type: result.type, value: result.value };
}
