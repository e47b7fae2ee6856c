import { invalidArgument } from './errors.js';
import { chordUUID, groupUUID, type Signature, taskUUID } from './signature.js';
import type { TaskSignature } from './task.js';

/** Tasks that run in parallel. Create with {@link group}. */
export interface Group<R = unknown> {
  readonly kind: 'group';
  readonly groupUUID: string;
  readonly tasks: Signature[];
  /** @internal phantom result type of each member */
  readonly __result?: R;
}

/** Tasks that run one after another, each result appended to the next task's args. Create with {@link chain}. */
export interface Chain<R = unknown> {
  readonly kind: 'chain';
  readonly tasks: Signature[];
  /** @internal phantom result type of the last link */
  readonly __result?: R;
}

/** A group, then one callback that receives every member's result. Create with {@link chord}. */
export interface Chord<R = unknown> {
  readonly kind: 'chord';
  readonly group: Group;
  readonly callback: Signature;
  /** @internal phantom result type of the callback */
  readonly __result?: R;
}

type ResultOfSig<S> = S extends TaskSignature<infer R> ? R : unknown;

/**
 * Groups signatures to run in parallel (Go `NewGroup`): one `group_` id, every member gets a `task_`
 * id if it has none, the group id and the member count.
 */
export function group<S extends Signature[]>(...tasks: S): Group<ResultOfSig<S[number]>> {
  if (tasks.length === 0) throw invalidArgument('A group needs at least one task.');
  const id = groupUUID();
  for (const t of tasks) {
    if (t.uuid === '') t.uuid = taskUUID();
    t.groupUUID = id;
    t.groupTaskCount = tasks.length;
  }
  return { kind: 'group', groupUUID: id, tasks };
}

type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : unknown;

/**
 * Chains signatures (Go `NewChain`): each link becomes the `onSuccess` of the one before, so the whole
 * chain travels inside the first message. A link's results are appended to the next link's args unless
 * the link is `immutable`.
 */
export function chain<S extends Signature[]>(...tasks: S): Chain<ResultOfSig<Last<S>>> {
  if (tasks.length === 0) throw invalidArgument('A chain needs at least one task.');
  for (const t of tasks) if (t.uuid === '') t.uuid = taskUUID();
  for (let i = tasks.length - 1; i > 0; i--) (tasks[i - 1] as Signature).onSuccess = [tasks[i] as Signature];
  return { kind: 'chain', tasks };
}

/**
 * A chord (Go `NewChord`): when every member of `group` has succeeded, `callback` runs once with all
 * their results appended to its args (in group order) unless it is `immutable`.
 */
export function chord<S extends Signature>(g: Group, callback: S): Chord<ResultOfSig<S>> {
  if (callback.uuid === '' || callback.uuid.startsWith('task_')) callback.uuid = chordUUID();
  for (const t of g.tasks) t.chordCallback = callback;
  return { kind: 'chord', group: g, callback };
}
