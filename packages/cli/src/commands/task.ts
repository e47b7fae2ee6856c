import type { Connection } from '@machinery/connect';
import {
  type ControlPlane,
  findWaitingTask,
  type GroupMeta,
  MachineryError,
  readTaskOrGroup,
  type TaskState,
  type WaitingTask,
} from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { jsonDate, showDate, showValue, summarizeArgs, toJson, truncate } from '../format.js';
import type { Output } from '../output.js';
import { queueList } from '../values.js';

// How far the pending and delayed listings are read to find a waiting task's arguments.
const ARGS_SEARCH_LIMIT = 1000;

/** A task's stored state as `machinery task --json` prints it. */
export interface TaskData {
  readonly kind: 'task';
  readonly uuid: string;
  readonly name: string;
  readonly state: string;
  readonly createdAt: string | null;
  /**
   * Wire arguments, known only while the task waits in a queue or for its ETA (the stored state
   * holds no arguments); `null` otherwise.
   */
  readonly args: { type: string; value: unknown }[] | null;
  /** Where the arguments were read: `pending` (in `queue`), `delayed`, or `null`. */
  readonly argsFrom: 'pending' | 'delayed' | null;
  readonly queue: string | null;
  readonly eta: string | null;
  /** Results as stored (`{ type, value }`), `null` until the task succeeded. */
  readonly results: { type: string; value: unknown }[] | null;
  /** The error of a `FAILURE` (or the reason of a `RETRY`), `null` when empty. */
  readonly error: string | null;
  /** The last progress the task reported (`data`, and `at` in RFC 3339), `null` when none is stored. */
  readonly progress: { data: unknown; at: string | null } | null;
  /** Its revocation (`reason`, `revokedAt` in RFC 3339), `null` when it is not revoked. */
  readonly revoked: { reason: string; revokedAt: string | null } | null;
  /** The control plane read for `progress` and `revoked`; `null` without one (both are then unknown). */
  readonly control: string | null;
}

/** A group as `machinery task --json` prints it. */
export interface GroupData {
  readonly kind: 'group';
  readonly uuid: string;
  readonly createdAt: string | null;
  readonly chordTriggered: boolean;
  /** State counts (`{ SUCCESS: 2, PENDING: 1 }`); members without a stored state count as `UNKNOWN`. */
  readonly counts: Record<string, number>;
  readonly members: {
    uuid: string;
    name: string | null;
    state: string;
    results: { type: string; value: unknown }[] | null;
    error: string | null;
    /** Whether it is revoked; `null` without a control plane. */
    revoked: boolean | null;
  }[];
}

/** `machinery task <uuid>`: a task's state, arguments, results and error, or a group's members. */
export const taskCommand: Command = {
  name: 'task',
  summary: "a task's state, args, results, error, progress, revocation (a group UUID: its members)",
  usage: '<uuid>',
  description:
    "Reads the stored state of a task from the result backend: state, task name, results, error and creation time; and from the control plane the last progress it reported and whether it is revoked. The arguments are not part of the stored state; they are shown while the task still waits in a queue (--queue, default the broker's) or for its ETA. A group UUID shows each member's state. Exit code 3 when the backend knows no task or group with that UUID (never sent to it, expired or purged).",
  options: {
    queue: {
      type: 'string',
      value: 'queue',
      help: "where to look for a waiting task's arguments (default: the broker default)",
    },
  },
  examples: ['machinery task task_0b5d2c1e-7f0e-4a7a-9d55-3c1f7c1f9a10', 'machinery task group_4d3c… --json'],
  async run(ctx): Promise<CommandResult> {
    const [uuid, ...rest] = ctx.args;
    if (uuid === undefined || uuid === '' || rest.length > 0) {
      throw new MachineryError('ERR_INVALID_ARGUMENT', 'task needs exactly one UUID: machinery task <uuid>.');
    }
    const [queue] = queueList(ctx.options);
    const connection = await ctx.connect({ control: true });
    const found = await readTaskOrGroup(connection.backend, uuid);
    if (found?.kind === 'group') return groupResult(found.meta, connection);
    if (!found) {
      throw new MachineryError(
        'ERR_NOT_FOUND',
        `No task or group ${uuid} in the result backend ${connection.urls.backend}: it was never sent there, or its result expired or was purged.`,
      );
    }
    const state = found.state;
    return taskResult(
      state,
      await findWaiting(connection, uuid, state, queue),
      `queue ${queue ?? connection.broker.defaultQueue} or among delayed tasks`,
      await controlView(connection),
    );
  },
};

// The stored state has no arguments; a task that has not started yet still carries them in the broker.
function findWaiting(
  connection: Connection,
  uuid: string,
  state: TaskState,
  queue: string | undefined,
): Promise<WaitingTask | undefined> {
  if (state.state !== 'PENDING' && state.state !== 'RETRY') return Promise.resolve(undefined);
  return findWaitingTask(connection.broker, uuid, { queue, limit: ARGS_SEARCH_LIMIT });
}

/** What the control plane knows about a task. */
interface ControlView {
  readonly url: string;
  readonly control: ControlPlane;
}

function controlView(connection: Connection): ControlView | undefined {
  const { control } = connection;
  const url = connection.urls.control;
  return control === undefined || url === undefined ? undefined : { control, url };
}

async function taskResult(
  state: TaskState,
  waiting: WaitingTask | undefined,
  lookedIn: string,
  view: ControlView | undefined,
): Promise<CommandResult> {
  const sig = waiting?.signature;
  const [progress, [revocation]] =
    view === undefined
      ? [undefined, [undefined]]
      : await Promise.all([
          view.control.progress.get(state.taskUUID),
          view.control.revocations.revoked([state.taskUUID]),
        ]);
  const data: TaskData = {
    kind: 'task',
    uuid: state.taskUUID,
    name: state.taskName,
    state: state.state,
    createdAt: jsonDate(state.createdAt),
    args: sig ? (sig.args ?? []).map((a) => ({ type: a.type, value: a.value })) : null,
    argsFrom: waiting?.from ?? null,
    queue: waiting?.queue ?? null,
    eta: jsonDate(sig?.eta),
    results: state.results === null ? null : state.results.map((r) => ({ type: r.type, value: r.value })),
    error: state.error === '' ? null : state.error,
    progress: progress === undefined ? null : { data: progress.data, at: jsonDate(new Date(progress.at)) },
    revoked:
      revocation === undefined
        ? null
        : { reason: revocation.reason, revokedAt: jsonDate(new Date(revocation.revokedAt)) },
    control: view?.url ?? null,
  };
  return {
    data,
    render(out: Output) {
      const rows: [string, string][] = [
        ['uuid', data.uuid],
        ['name', data.name || '(not stored)'],
        ['state', data.state],
        ['created', showDate(state.createdAt)],
      ];
      if (sig && waiting) {
        rows.push(['args', summarizeArgs(sig.args, 200) || '(none)']);
        rows.push([
          'waiting',
          waiting.from === 'pending'
            ? `in queue ${waiting.queue}`
            : `for its ETA ${showDate(sig.eta)}, then queue ${waiting.queue}`,
        ]);
      } else if (data.state === 'PENDING' || data.state === 'RETRY') {
        rows.push([
          'args',
          `(not stored with the state, and not found waiting in ${lookedIn}: pass --queue)`,
        ]);
      } else {
        rows.push(['args', '(not stored with the state; shown only while the task waits)']);
      }
      if (state.results !== null) {
        rows.push([
          'results',
          state.results.length === 0
            ? '(none)'
            : state.results.map((r) => `${showValue(r)} (${r.type})`).join(', '),
        ]);
      }
      if (data.error !== null) rows.push([data.state === 'RETRY' ? 'retry reason' : 'error', data.error]);
      if (view === undefined) {
        rows.push(['progress', '(unknown: no control plane)'], ['revoked', '(unknown: no control plane)']);
      } else {
        rows.push([
          'progress',
          progress === undefined
            ? '(none reported)'
            : `${truncate(toJson(progress.data) ?? 'null', 200)} (${showDate(new Date(progress.at))})`,
        ]);
        rows.push([
          'revoked',
          revocation === undefined
            ? 'no'
            : `yes, ${showDate(new Date(revocation.revokedAt))}: ${revocation.reason}`,
        ]);
      }
      out.fields(rows);
    },
  };
}

async function groupResult(meta: GroupMeta, connection: Connection): Promise<CommandResult> {
  const states = await Promise.all(meta.taskUUIDs.map((u) => connection.backend.getState(u)));
  const revocations = await connection.control?.revocations.revoked(meta.taskUUIDs);
  const members = meta.taskUUIDs.map((uuid, i) => {
    const s = states[i];
    return {
      uuid,
      name: s?.taskName || null,
      state: s?.state ?? 'UNKNOWN',
      results: s?.results ? s.results.map((r) => ({ type: r.type, value: r.value })) : null,
      error: s?.error ? s.error : null,
      revoked: revocations === undefined ? null : revocations[i] !== undefined,
    };
  });
  const counts: Record<string, number> = {};
  for (const m of members) counts[m.state] = (counts[m.state] ?? 0) + 1;
  const data: GroupData = {
    kind: 'group',
    uuid: meta.groupUUID,
    createdAt: jsonDate(meta.createdAt),
    chordTriggered: meta.chordTriggered,
    counts,
    members,
  };
  return {
    data,
    render(out) {
      out.fields([
        ['group', data.uuid],
        ['created', showDate(meta.createdAt)],
        [
          'members',
          `${members.length} (${Object.entries(counts)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')})`,
        ],
        ['chord', meta.chordTriggered ? 'callback triggered' : 'callback not triggered (or not a chord)'],
      ]);
      out.line();
      out.table(
        [{ title: 'UUID' }, { title: 'NAME' }, { title: 'STATE' }, { title: 'RESULT / ERROR' }],
        members.map((m) => [
          m.uuid,
          m.name ?? '',
          m.revoked === true ? `${m.state} (revoked)` : m.state,
          truncate(m.error ?? (m.results ? m.results.map(showValue).join(', ') : ''), 60),
        ]),
      );
    },
  };
}
