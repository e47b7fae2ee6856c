import type { TaskResult } from './arg.js';

/** Task states, as Go Machinery writes them. */
export const TaskStatus = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  RETRY: 'RETRY',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
} as const;

/** One of the six state names. */
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** The stored state of one task (`<UUID>` in Redis and Memcache). */
export interface TaskState {
  taskUUID: string;
  taskName: string;
  state: TaskStatus;
  /** Results in order, `null` until the task succeeded (`[]` for a task that returns nothing). */
  results: TaskResult[] | null;
  /** The error text of a `FAILURE` (or the reason of a `RETRY`). */
  error: string;
  createdAt: Date;
  /** Seconds; Go writes 0 except on DynamoDB. */
  ttl: number;
}

/** The stored metadata of a group (`<groupUUID>`). */
export interface GroupMeta {
  groupUUID: string;
  taskUUIDs: string[];
  /** Set once the chord callback was triggered; Go readers rely on it. */
  chordTriggered: boolean;
  lock: boolean;
  createdAt: Date;
  ttl: number;
}

/** True for `SUCCESS` and `FAILURE`, the states a task never leaves. */
export function isCompleted(state: TaskStatus | undefined): boolean {
  return state === TaskStatus.SUCCESS || state === TaskStatus.FAILURE;
}

const STATES = new Set<string>(Object.values(TaskStatus));

/** True when `s` is one of the six state names. */
export function isTaskStatus(s: unknown): s is TaskStatus {
  return typeof s === 'string' && STATES.has(s);
}

/** What a state write sets besides the task and its status: results (SUCCESS) or an error text. */
export interface StateUpdate {
  results?: TaskResult[];
  error?: string;
}

/**
 * Whether a write of `status` keeps the `TaskName` and `CreatedAt` of the state stored before it.
 * Go Machinery writes `PENDING` afresh (a new `CreatedAt`, also on every retry's re-send); every later
 * state keeps them. The one statement of that rule: backends that merge inside their store (a Redis
 * script) ask this, backends that merge in process call {@link nextTaskState}.
 */
export function keepsEarlierState(status: TaskStatus): boolean {
  return status !== TaskStatus.PENDING;
}

/**
 * The state a backend stores when `signature` moves to `status`: `previous` (the stored state, if the
 * backend read it) lends its task name (when the signature has none) and creation time unless
 * {@link keepsEarlierState} says the write starts afresh.
 */
export function nextTaskState(
  signature: { readonly uuid: string; readonly name: string },
  status: TaskStatus,
  update: StateUpdate,
  previous?: TaskState,
): TaskState {
  const earlier = keepsEarlierState(status) ? previous : undefined;
  return {
    taskUUID: signature.uuid,
    taskName: signature.name || (earlier?.taskName ?? ''),
    state: status,
    results: update.results ?? null,
    error: update.error ?? '',
    createdAt: earlier?.createdAt ?? new Date(),
    ttl: 0,
  };
}
