import type { Backend } from './backend.js';
import type { Broker, DeadLetter } from './broker.js';
import type { ControlPlane } from './control/control-plane.js';
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

/**
 * A count read through a listing capped at a limit: `complete` is false when the listing hit the cap,
 * so the true number is at least `count`.
 */
export interface CappedCount {
  readonly count: number;
  readonly complete: boolean;
}

/** One queue as {@link inspectQueues} reads it; `null` where the broker cannot list, or there is no control plane. */
export interface QueueInspection {
  readonly queue: string;
  readonly pending: CappedCount | null;
  readonly delayed: CappedCount | null;
  readonly deadLetters: CappedCount | null;
  readonly paused: boolean | null;
  /** Live workers consuming it. */
  readonly workers: number | null;
}

/** What {@link inspectQueues} read. */
export interface QueuesInspection {
  readonly queues: QueueInspection[];
  /** Live workers on every queue; `null` without a control plane. */
  readonly liveWorkers: number | null;
  /** The listings read (`null`: the broker cannot list them), for callers that show more than counts. */
  readonly pendingTasks: Signature[];
  readonly delayedTasks: Signature[] | null;
  readonly deadLetters: DeadLetter[] | null;
}

/** Options of {@link inspectQueues}. */
export interface InspectQueuesOptions {
  /** Exactly these queues; without, the broker's default queue, `alsoList`, and every queue seen. */
  queues?: readonly string[] | undefined;
  /** Listed besides the default queue when `queues` is not given. */
  alsoList?: readonly string[] | undefined;
  /** Items read per listing (default 1000). */
  limit?: number | undefined;
}

/**
 * Pending, delayed and dead-letter counts per queue, with paused flags and live workers from the
 * control plane — what the CLI's `status` and the dashboard's overview show. Without `queues` it lists
 * the default queue and every queue that has delayed tasks, dead letters, live workers or a pause.
 * Counts come from listings capped at `limit`; a broker that cannot list a part gives `null` for it.
 */
export async function inspectQueues(
  broker: Broker,
  control: ControlPlane | undefined,
  options: InspectQueuesOptions = {},
): Promise<QueuesInspection> {
  const limit = options.limit ?? 1000;
  const caps = broker.capabilities;
  const [paused, workers, delayed, dead] = await Promise.all([
    control ? control.pauses.paused().then((p) => new Set(p)) : null,
    control ? control.workers.list() : null,
    caps.delayedInspection ? broker.delayedTasks(limit) : null,
    caps.deadLetterInspection ? broker.deadLetters(limit) : null,
  ]);
  const queueOf = (routingKey: string) => routingKey || broker.defaultQueue;
  const names =
    options.queues !== undefined && options.queues.length > 0
      ? [...new Set(options.queues)]
      : [
          ...new Set([
            broker.defaultQueue,
            ...(options.alsoList ?? []),
            ...(delayed ?? []).map((s) => queueOf(s.routingKey)),
            ...(dead ?? []).map((d) => d.queue),
            ...(workers ?? []).map((w) => w.queue),
            ...(paused ?? []),
          ]),
        ];
  const capped = (matching: number, listed: number): CappedCount => ({
    count: matching,
    complete: listed < limit,
  });
  const pendingTasks: Signature[] = [];
  const queues = await Promise.all(
    names.map(async (queue): Promise<QueueInspection> => {
      let pending: CappedCount | null = null;
      if (caps.pendingInspection) {
        const tasks = await broker.pendingTasks(queue, limit);
        pendingTasks.push(...tasks);
        pending = capped(tasks.length, tasks.length);
      }
      return {
        queue,
        pending,
        delayed:
          delayed === null
            ? null
            : capped(delayed.filter((s) => queueOf(s.routingKey) === queue).length, delayed.length),
        deadLetters: dead === null ? null : capped(dead.filter((d) => d.queue === queue).length, dead.length),
        paused: paused === null ? null : paused.has(queue),
        workers: workers === null ? null : workers.filter((w) => w.queue === queue).length,
      };
    }),
  );
  return {
    queues,
    liveWorkers: workers === null ? null : workers.length,
    pendingTasks,
    delayedTasks: delayed,
    deadLetters: dead,
  };
}
