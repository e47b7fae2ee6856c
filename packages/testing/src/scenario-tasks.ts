import { defineTask, tuple } from '@machinery/core';

// The tasks of Go Machinery's integration suite (reference §5.2), same names and behaviour, so the
// same expected values apply: group [2, 4, 11], chord 88, chain 60, "Test error", "oops".

/** `add(args ...int64) int64`: the sum. */
export const add = defineTask('add', (...numbers: number[]) => numbers.reduce((a, b) => a + b, 0));

/** `multiply(args ...int64) int64`: the product (empty → 1). */
export const multiply = defineTask('multiply', (...numbers: number[]) => numbers.reduce((a, b) => a * b, 1));

/** `sum(numbers []int64) int64`. */
export const sum = defineTask('sum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));

/** `return_just_error(msg string, fail bool) error`. */
export const returnJustError = defineTask('return_just_error', (msg: string, fail: boolean): void => {
  if (fail) throw new Error(msg);
});

/** `return_multiple_values(a, b string, fail bool) (string, string, error)`. */
export const returnMultipleValues = defineTask(
  'return_multiple_values',
  (a: string, b: string, fail: boolean) => {
    if (fail) throw new Error('some error');
    return tuple(a, b);
  },
);

/** `panic() (string, error)`: panics with "oops". */
export const panicTask = defineTask('panic', (): string => {
  throw new Error('oops');
});

/** `delay_test() int64`: the current time in Unix nanoseconds. */
export const delayTest = defineTask('delay_test', () => BigInt(Date.now()) * 1_000_000n);

/** Every task of Go Machinery's suite. */
export const goSuiteTasks = [
  add,
  multiply,
  sum,
  returnJustError,
  returnMultipleValues,
  panicTask,
  delayTest,
] as const;
