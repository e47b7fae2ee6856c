import { type TaskState, TaskStatus } from '@machinery/core';
import type { Expected } from './workload.js';

/**
 * Where a task UUID stands against what the soak requires of it:
 * - `succeeded` — not revoked and not stopped by a revocation: SUCCESS, as without revocations;
 * - `revokedFailed` — revoked, and FAILURE with an error saying so (it never ran, or was aborted);
 * - `revokedFinished` — revoked, but SUCCESS: it finished before the revocation reached it;
 * - `stopped` — a chain link after a link that ended revoked (never sent: no state, never run), or the
 *   callback of a chord whose member ended revoked (FAILURE "cannot run", never run);
 * - `ranThoughStopped` — a task that should have been `stopped` and succeeded instead (a chord callback
 *   fired although a member ended revoked): final, and a failure of the run;
 * - `waiting` — none of these yet; at the end of the drain, a lost task.
 */
export type Outcome =
  | 'succeeded'
  | 'revokedFailed'
  | 'revokedFinished'
  | 'stopped'
  | 'ranThoughStopped'
  | 'waiting';

/** True for a FAILURE stored because the task was revoked (the worker's or `revokeTasks`' error text). */
export function isRevokedFailure(state: TaskState | undefined): boolean {
  return state?.state === TaskStatus.FAILURE && state.error.includes(' was revoked: ');
}

/** The chain links before `uuid` (none for anything but a chain link), nearest first. */
function earlierLinks(expected: Expected, uuid: string): string[] {
  const out: string[] = [];
  let current = uuid;
  while (expected.roles.get(current)?.startsWith('chain link')) {
    const previous = expected.sources.get(current)?.[0];
    if (previous === undefined) break;
    out.push(previous);
    current = previous;
  }
  return out;
}

/**
 * Judges one UUID from the stored states (`states` must hold the UUID and the tasks it depends on:
 * earlier chain links, chord members). Pure: the drain calls it on every round, the verdict once.
 */
export function judge(
  expected: Expected,
  states: ReadonlyMap<string, TaskState | undefined>,
  uuid: string,
): Outcome {
  const state = states.get(uuid);
  const role = expected.roles.get(uuid);
  if (dependencies(expected, uuid).some((u) => isRevokedFailure(states.get(u)))) {
    if (state?.state === TaskStatus.SUCCESS) return 'ranThoughStopped';
    // A chord's callback is failed by the member completing the group; a chain's next link is never sent.
    if (role === 'chord callback') return state?.state === TaskStatus.FAILURE ? 'stopped' : 'waiting';
    return 'stopped';
  }
  if (expected.revoked.has(uuid)) {
    if (state?.state === TaskStatus.SUCCESS) return 'revokedFinished';
    return isRevokedFailure(state) ? 'revokedFailed' : 'waiting';
  }
  return state?.state === TaskStatus.SUCCESS ? 'succeeded' : 'waiting';
}

/** The UUIDs `uuid`'s outcome depends on (earlier chain links, chord members). */
export function dependencies(expected: Expected, uuid: string): string[] {
  return expected.roles.get(uuid) === 'chord callback'
    ? (expected.sources.get(uuid) ?? [])
    : earlierLinks(expected, uuid);
}
