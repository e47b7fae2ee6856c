import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import { isMachineryError } from './errors.js';
import type { Signature } from './signature.js';
import type { GroupMeta, TaskState } from './state.js';

/** What a UUID names in a result backend: a task's state, or a group's (or chord's) metadata. */
export type StoredEntry =
  | { readonly kind: 'task'; readonly state: TaskState }
  | { readonly kind: 'group'; readonly meta: GroupMeta };

/**
 * Reads what `uuid` names in `backend`, for tools that look a UUID up without knowing its kind (the
 * CLI's `task`, the dashboard): a task's state, a group's metadata, or `undefined` when neither is
 * stored. Where task states and group metadata share one key space (Redis, memcached, memory, as in
 * Go), a group's key does not decode as a state, and a task's state decodes as a GroupMeta without
 * GroupUUID or members: both are told apart here.
 * @throws whatever the backend throws reading (a service down: `ERR_CONNECTION`).
 */
export async function readTaskOrGroup(backend: Backend, uuid: string): Promise<StoredEntry | undefined> {
  const isGroup = (meta: GroupMeta | undefined): meta is GroupMeta =>
    meta !== undefined && (meta.groupUUID === uuid || meta.taskUUIDs.length > 0);
  if (uuid.startsWith('group_')) {
    const meta = await backend.getGroupMeta(uuid);
    if (isGroup(meta)) return { kind: 'group', meta };
  }
  let state: TaskState | undefined;
  try {
    state = await backend.getState(uuid);
  } catch (err) {
    if (!isMachineryError(err, 'ERR_DECODE')) throw err;
  }
  if (state) return { kind: 'task', state };
  const meta = await backend.getGroupMeta(uuid).catch(() => undefined);
  return isGroup(meta) ? { kind: 'group', meta } : undefined;
}

/** A task found waiting in the broker: its signature (with its arguments) and where it waits. */
export interface WaitingTask {
  readonly signature: Signature;
  /** `pending`: in `queue`; `delayed`: for its ETA, then `queue`. */
  readonly from: 'pending' | 'delayed';
  readonly queue: string;
}

/**
 * Finds a task that has not started among the broker's waiting tasks of `queue` (default: the
 * broker's default queue) and its delayed tasks, reading at most `limit` of each (default 1000). The
 * stored state holds no arguments; a waiting task still carries them. `undefined` when it is not
 * found or the broker cannot list what it would have to.
 */
export async function findWaitingTask(
  broker: Broker,
  uuid: string,
  options: { queue?: string | undefined; limit?: number | undefined } = {},
): Promise<WaitingTask | undefined> {
  const limit = options.limit ?? 1000;
  const queue = options.queue || broker.defaultQueue;
  if (broker.capabilities.pendingInspection) {
    const found = (await broker.pendingTasks(queue, limit)).find((s) => s.uuid === uuid);
    if (found) return { signature: found, from: 'pending', queue };
  }
  if (broker.capabilities.delayedInspection) {
    const found = (await broker.delayedTasks(limit)).find((s) => s.uuid === uuid);
    if (found) return { signature: found, from: 'delayed', queue: found.routingKey || broker.defaultQueue };
  }
  return undefined;
}
