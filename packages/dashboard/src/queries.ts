import {
  type Backend,
  type Broker,
  type CappedCount,
  type ControlPlane,
  decodeSignature,
  errorText,
  findWaitingTask,
  type GroupMeta,
  inspectQueues,
  readTaskOrGroup,
  redactText,
  type Signature,
  type TaskState,
  type WaitingTask,
  type WorkerInfo,
} from '@machinery/core';
import type { EventHistory } from './event-history.js';
import type { EventView, Redactor, WireValue } from './redaction.js';

/** A count read through a listing capped at the dashboard's `limit` (`complete` false: at least `count`). */
export type Count = CappedCount;

/** One queue on the overview. */
export interface QueueView {
  readonly queue: string;
  /** `null` when the broker cannot list pending tasks. */
  readonly pending: Count | null;
  /** `null` when the broker cannot list delayed tasks. */
  readonly delayed: Count | null;
  /** `null` when the broker cannot list dead letters. */
  readonly deadLetters: Count | null;
  /** `null` without a control plane. */
  readonly paused: boolean | null;
  /** Live workers consuming it; `null` without a control plane. */
  readonly workers: number | null;
}

/** `GET /api/overview`. */
export interface OverviewView {
  /** Live workers on every queue; `null` without a control plane. */
  readonly liveWorkers: number | null;
  readonly limit: number;
  readonly queues: QueueView[];
  /** Why a column is `null`, by column. */
  readonly unavailable: Record<string, string>;
  /** What the broker lets the dashboard do. */
  readonly can: { readonly requeue: boolean; readonly purgeDeadLetters: boolean; readonly control: boolean };
}

/** `GET /api/tasks/:uuid` for a task. */
export interface TaskView {
  readonly kind: 'task';
  readonly uuid: string;
  readonly name: string;
  readonly state: string;
  readonly createdAt: string | null;
  /** Arguments (redacted), known while the task waits in a queue or for its ETA; `null` otherwise. */
  readonly args: unknown;
  readonly argsFrom: 'pending' | 'delayed' | null;
  readonly queue: string | null;
  readonly eta: string | null;
  readonly groupUUID: string | null;
  /** Results (redacted), `null` until it succeeded. */
  readonly results: unknown;
  /** The error (redacted), `null` when none. */
  readonly error: unknown;
  /** Last progress (redacted), `null` when none is stored (or no control plane). */
  readonly progress: { readonly data: unknown; readonly at: string } | null;
  readonly revoked: { readonly reason: string; readonly revokedAt: string } | null;
  /** Events this dashboard saw for it, oldest first (it sees none from before it started). */
  readonly timeline: EventView[];
  readonly control: boolean;
}

/** `GET /api/tasks/:uuid` (or `/api/groups/:uuid`) for a group or chord. */
export interface GroupView {
  readonly kind: 'group';
  readonly uuid: string;
  readonly createdAt: string | null;
  /** True once a chord's callback was sent. */
  readonly chordTriggered: boolean;
  /** State counts; members without a stored state count as `UNKNOWN`. */
  readonly counts: Record<string, number>;
  readonly members: {
    readonly uuid: string;
    readonly name: string | null;
    readonly state: string;
    readonly results: unknown;
    readonly error: unknown;
    /** `null` without a control plane. */
    readonly revoked: boolean | null;
  }[];
}

/** A group in `GET /api/groups`. */
export interface GroupSummary {
  readonly uuid: string;
  readonly members: number;
  readonly counts: Record<string, number>;
  readonly chordTriggered: boolean;
}

/** A dead letter in `GET /api/dead-letters`; the raw body is never sent (it holds the arguments). */
export interface DeadLetterView {
  readonly queue: string;
  /** Why it was dead-lettered (redacted as an error). */
  readonly reason: unknown;
  readonly at: string | null;
  /** The task, when the body decodes. */
  readonly task: {
    readonly uuid: string;
    readonly name: string;
    readonly args: unknown;
    readonly retryCount: number;
    readonly groupUUID: string | null;
  } | null;
  /** Why the body does not decode, `null` when it does. */
  readonly decodeError: string | null;
}

/** A live worker in `GET /api/workers`. */
export interface WorkerView extends WorkerInfo {
  /** Time since its last heartbeat, in ms. */
  readonly heartbeatAgeMs: number;
}

// Known groups listed on the groups page; the oldest are forgotten past this many.
const MAX_KNOWN_GROUPS = 200;

/**
 * Everything the pages and the API read, through the public `Broker`, `Backend` and `ControlPlane`
 * interfaces only, with the application's redaction applied to every task value.
 */
export class Queries {
  private readonly knownGroups = new Set<string>();

  constructor(
    private readonly broker: Broker,
    private readonly backend: Backend,
    private readonly control: ControlPlane | undefined,
    private readonly redactor: Redactor,
    private readonly history: EventHistory,
    private readonly extraQueues: readonly string[],
    readonly limit: number,
  ) {}

  /** Counts per queue: the default queue, the configured ones and every queue seen anywhere. */
  async overview(): Promise<OverviewView> {
    const { broker, control, limit } = this;
    const caps = broker.capabilities;
    const read = await inspectQueues(broker, control, {
      alsoList: [...this.extraQueues, ...this.history.queues()],
      limit,
    });
    for (const sig of read.pendingTasks) this.rememberGroup(sig);
    for (const sig of read.delayedTasks ?? []) this.rememberGroup(sig);
    const unavailable: Record<string, string> = {};
    if (!caps.pendingInspection) unavailable.pending = 'the broker cannot list pending tasks';
    if (!caps.delayedInspection) unavailable.delayed = 'the broker cannot list delayed tasks';
    if (!caps.deadLetterInspection) unavailable.deadLetters = 'the broker cannot list dead letters';
    if (control === undefined) {
      unavailable.paused = 'no control plane';
      unavailable.workers = 'no control plane';
    }
    return {
      liveWorkers: read.liveWorkers,
      limit,
      queues: read.queues,
      unavailable,
      can: {
        requeue: caps.deadLetterInspection,
        purgeDeadLetters: broker.purge !== undefined && caps.purge?.deadLetters === true,
        control: control !== undefined,
      },
    };
  }

  /** A task's state, arguments while it waits, results, error, progress, revocation and timeline. */
  async task(uuid: string): Promise<TaskView | GroupView | undefined> {
    const found = await readTaskOrGroup(this.backend, uuid);
    if (found === undefined) return undefined;
    return found.kind === 'group' ? this.groupView(found.meta, uuid) : this.taskView(found.state);
  }

  /** A group or chord and its members, `undefined` when the backend has no such group. */
  async group(uuid: string): Promise<GroupView | undefined> {
    const found = await readTaskOrGroup(this.backend, uuid).catch(() => undefined);
    return found?.kind === 'group' ? this.groupView(found.meta, uuid) : undefined;
  }

  /** The groups this dashboard has seen (in waiting tasks, dead letters, or looked up), newest first. */
  async groups(): Promise<GroupSummary[]> {
    const uuids = [...this.knownGroups].reverse().slice(0, 50);
    const views = await Promise.all(uuids.map((u) => this.group(u)));
    return views
      .filter((v): v is GroupView => v !== undefined)
      .map((v) => ({
        uuid: v.uuid,
        members: v.members.length,
        counts: v.counts,
        chordTriggered: v.chordTriggered,
      }));
  }

  /** Dead letters, oldest first, at most `limit`; `null` when the broker cannot list them. */
  async deadLetters(): Promise<DeadLetterView[] | null> {
    if (!this.broker.capabilities.deadLetterInspection) return null;
    const letters = await this.broker.deadLetters(this.limit);
    return letters.map((letter) => {
      let sig: Signature | undefined;
      let decodeError: string | null = null;
      try {
        sig = decodeSignature(letter.body);
        this.rememberGroup(sig);
      } catch (err) {
        decodeError = redactText(errorText(err)).slice(0, 300);
      }
      const task = { uuid: sig?.uuid ?? '', name: sig?.name ?? '' };
      return {
        queue: letter.queue,
        reason: this.redactor.error(letter.reason, task),
        at: letter.at ? letter.at.toISOString() : null,
        task:
          sig === undefined
            ? null
            : {
                uuid: sig.uuid,
                name: sig.name,
                args: this.redactor.values('args', sig.args ?? [], task),
                retryCount: sig.retryCount,
                groupUUID: sig.groupUUID || null,
              },
        decodeError,
      };
    });
  }

  /** Live workers, `null` without a control plane. */
  async workers(): Promise<WorkerView[] | null> {
    if (!this.control) return null;
    const now = Date.now();
    return (await this.control.workers.list()).map((w) => ({
      ...w,
      heartbeatAgeMs: Math.max(0, now - w.heartbeatAt),
    }));
  }

  /** The last `n` task events, newest first. */
  recentEvents(n: number): EventView[] {
    return this.history.recent(n).map((e) => this.redactor.event(e));
  }

  private rememberGroup(sig: Signature): void {
    if (!sig.groupUUID) return;
    this.knownGroups.delete(sig.groupUUID);
    this.knownGroups.add(sig.groupUUID);
    if (this.knownGroups.size > MAX_KNOWN_GROUPS) {
      const oldest = this.knownGroups.values().next().value;
      if (oldest !== undefined) this.knownGroups.delete(oldest);
    }
  }

  private async taskView(state: TaskState): Promise<TaskView> {
    const uuid = state.taskUUID;
    const task = { uuid, name: state.taskName };
    const timeline = this.history.forTask(uuid);
    const queueFromEvents = timeline.find((e) => e.queue)?.queue;
    const waiting = await this.findWaiting(uuid, state, queueFromEvents);
    if (waiting) this.rememberGroup(waiting.signature);
    const [progress, revocations] = this.control
      ? await Promise.all([this.control.progress.get(uuid), this.control.revocations.revoked([uuid])])
      : [undefined, [undefined]];
    const revocation = revocations[0];
    const sig = waiting?.signature;
    return {
      kind: 'task',
      uuid,
      name: state.taskName,
      state: state.state,
      createdAt: isoDate(state.createdAt),
      args: sig ? this.redactor.values('args', sig.args ?? [], task) : null,
      argsFrom: waiting?.from ?? null,
      queue: waiting?.queue ?? queueFromEvents ?? null,
      eta: isoDate(sig?.eta),
      groupUUID: sig?.groupUUID || null,
      results: this.redactor.values('results', state.results as WireValue[] | null, task),
      error: this.redactor.error(state.error, task),
      progress:
        progress === undefined
          ? null
          : {
              data: this.redactor.apply('progress', progress.data, task),
              at: new Date(progress.at).toISOString(),
            },
      revoked:
        revocation === undefined
          ? null
          : {
              reason: String(this.redactor.apply('error', revocation.reason, task)),
              revokedAt: new Date(revocation.revokedAt).toISOString(),
            },
      timeline: timeline.map((e) => this.redactor.event(e)),
      control: this.control !== undefined,
    };
  }

  // The stored state has no arguments; a task that has not started yet still carries them in the broker.
  private findWaiting(
    uuid: string,
    state: TaskState,
    queue: string | undefined,
  ): Promise<WaitingTask | undefined> {
    if (state.state !== 'PENDING' && state.state !== 'RETRY') return Promise.resolve(undefined);
    return findWaitingTask(this.broker, uuid, { queue, limit: this.limit });
  }

  private async groupView(meta: GroupMeta, uuid: string): Promise<GroupView> {
    const groupUUID = meta.groupUUID || uuid;
    this.knownGroups.delete(groupUUID);
    this.knownGroups.add(groupUUID);
    const states = await Promise.all(
      meta.taskUUIDs.map((u) => this.backend.getState(u).catch(() => undefined)),
    );
    const revocations = await this.control?.revocations.revoked(meta.taskUUIDs);
    const members = meta.taskUUIDs.map((member, i) => {
      const uuid = member;
      const s = states[i];
      const task = { uuid, name: s?.taskName ?? '' };
      return {
        uuid,
        name: s?.taskName || null,
        state: s?.state ?? 'UNKNOWN',
        results: this.redactor.values('results', (s?.results ?? null) as WireValue[] | null, task),
        error: this.redactor.error(s?.error, task),
        revoked: revocations === undefined ? null : revocations[i] !== undefined,
      };
    });
    const counts: Record<string, number> = {};
    for (const m of members) counts[m.state] = (counts[m.state] ?? 0) + 1;
    return {
      kind: 'group',
      uuid: groupUUID,
      createdAt: isoDate(meta.createdAt),
      chordTriggered: meta.chordTriggered,
      counts,
      members,
    };
  }
}

function isoDate(date: Date | null | undefined): string | null {
  if (!date || Number.isNaN(date.getTime())) return null;
  return date.toISOString();
}
