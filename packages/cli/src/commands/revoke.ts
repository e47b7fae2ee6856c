import type { Backend, GroupMeta, RevokeOptions, TaskState } from '@machinery/core';
import {
  isMachineryError,
  MachineryError,
  parseDuration,
  revokeTasks,
  scheduleRevocationId,
} from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { connectControl } from '../control.js';
import { stringOption } from '../values.js';

/** One revoked UUID in `machinery revoke --json`. */
export interface RevokedRow {
  readonly uuid: string;
  readonly kind: 'task' | 'group';
  /** The task's name as stored, `null` for a group or an unknown task. */
  readonly name: string | null;
  /** Its state before the revocation, `null` when none was stored (`--force`). */
  readonly before: string | null;
  /** The group it belongs to when it was revoked as a member, else `null`. */
  readonly memberOf: string | null;
  /** What the revocation does to it, in words. */
  readonly effect: string;
}

/** `machinery revoke --json`. */
export interface RevokeData {
  readonly reason: string;
  /** How long every process refuses these UUIDs, in ms. */
  readonly ttlMs: number;
  readonly revoked: RevokedRow[];
  /** Periodic schedules revoked with `--schedule`. */
  readonly schedules: string[];
}

const DEFAULT_TTL_MS = 3_600_000;

/** `machinery revoke`: revokes tasks, groups and chords by UUID, and periodic schedules by name. */
export const revokeCommand: Command = {
  name: 'revoke',
  summary: 'revoke tasks, groups or chords by UUID, or a periodic schedule',
  usage: '[uuid…]',
  description:
    'Revokes tasks in every worker sharing the control plane: a waiting task (PENDING, or RETRY until its next attempt) is marked FAILURE at once, a worker never starts a revoked task, and a running one has its AbortSignal aborted and ends in FAILURE "… was revoked: <reason>". A group or chord UUID revokes every member. Every process remembers the revocation for --ttl. A UUID the result backend does not know is refused (exit 3, nothing revoked) unless --force. --schedule revokes a periodic schedule by name: every process removes it before its next tick.',
  options: {
    reason: { type: 'string', value: 'text', help: 'why, stored in the FAILURE error (default "revoked")' },
    ttl: { type: 'string', value: 'duration', help: 'how long it is remembered: 30m, 1h, 90s (default 1h)' },
    schedule: {
      type: 'string',
      multiple: true,
      value: 'name',
      help: 'revoke a periodic schedule (repeatable)',
    },
    force: { type: 'boolean', help: 'revoke UUIDs the result backend does not know too' },
  },
  examples: [
    'machinery revoke task_0b5d2c1e-7f0e-4a7a-9d55-3c1f7c1f9a10',
    'machinery revoke group_4d3c… --reason "bad input" --json',
    'machinery revoke --schedule nightly-report --ttl 24h',
  ],
  async run(ctx): Promise<CommandResult> {
    const uuids = [...new Set(ctx.args.filter((u) => u !== ''))];
    const schedules = scheduleNames(ctx.options.schedule);
    if (uuids.length === 0 && schedules.length === 0) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        'revoke needs UUIDs or --schedule: machinery revoke <uuid…> or machinery revoke --schedule <name>.',
      );
    }
    const reason = stringOption(ctx.options, 'reason');
    const ttlMs = ttlOption(stringOption(ctx.options, 'ttl'));
    const options: RevokeOptions = { ttlMs, ...(reason !== undefined ? { reason } : {}) };
    const { connection, control } = await connectControl(ctx, 'revoke');
    const backend = connection.backend;

    const found = await Promise.all(uuids.map((uuid) => lookUp(backend, uuid)));
    const unknown = uuids.filter((_, i) => found[i]?.kind === 'unknown');
    if (unknown.length > 0 && ctx.options.force !== true) {
      throw new MachineryError(
        'ERR_NOT_FOUND',
        `No task or group ${unknown.join(', ')} in the result backend ${connection.urls.backend}: nothing was revoked. Check the UUID, or pass --force to revoke it anyway (a result that expired, a producer without this backend).`,
      );
    }

    const revoked = uuids.length > 0 ? await revokeTasks({ control, backend }, uuids, options) : [];
    if (schedules.length > 0) await control.revocations.revoke(schedules.map(scheduleRevocationId), options);

    const rows = revokedRows(revoked, uuids, found);
    const data: RevokeData = { reason: reason ?? 'revoked', ttlMs, revoked: rows, schedules };
    return {
      data,
      render(out) {
        if (rows.length > 0) {
          out.table(
            [{ title: 'UUID' }, { title: 'NAME' }, { title: 'WAS' }, { title: 'NOW' }],
            rows.map((r) => [
              r.memberOf === null ? r.uuid : `  ${r.uuid}`,
              r.name ?? '',
              r.kind === 'group' ? 'group' : (r.before ?? '(unknown)'),
              r.effect,
            ]),
          );
          out.line();
        }
        for (const name of schedules)
          out.line(`schedule ${name}: every process removes it before its next tick`);
        const count = rows.length + schedules.length;
        out.line(
          `revoked ${count} (reason "${data.reason}"; every worker refuses ${count === 1 ? 'it' : 'them'} for ${showTtl(ttlMs)})`,
        );
      },
    };
  },
};

type Found =
  | { readonly kind: 'group'; readonly meta: GroupMeta; readonly members: (TaskState | undefined)[] }
  | { readonly kind: 'task'; readonly state: TaskState }
  | { readonly kind: 'unknown' };

async function lookUp(backend: Backend, uuid: string): Promise<Found> {
  const meta = await backend.getGroupMeta(uuid).catch(() => undefined);
  // A task's state decodes as group metadata too (one keyspace): a group's names its own UUID.
  if (meta !== undefined && meta.groupUUID === uuid) {
    const members = await Promise.all(meta.taskUUIDs.map((u) => backend.getState(u).catch(() => undefined)));
    return { kind: 'group', meta, members };
  }
  let state: TaskState | undefined;
  try {
    state = await backend.getState(uuid);
  } catch (err) {
    // A key that holds something else than a task state (a group's metadata under an odd name).
    if (!isMachineryError(err, 'ERR_DECODE')) throw err;
  }
  return state === undefined ? { kind: 'unknown' } : { kind: 'task', state };
}

/** The revoked UUIDs in the order asked, each group followed by its members. */
function revokedRows(
  revoked: readonly string[],
  asked: readonly string[],
  found: readonly Found[],
): RevokedRow[] {
  const rows: RevokedRow[] = [];
  const listed = new Set<string>();
  const task = (uuid: string, state: TaskState | undefined, memberOf: string | null) => {
    if (listed.has(uuid)) return;
    listed.add(uuid);
    rows.push({
      uuid,
      kind: 'task',
      name: state?.taskName || null,
      before: state?.state ?? null,
      memberOf,
      effect: effectOf(state?.state),
    });
  };
  asked.forEach((uuid, i) => {
    const f = found[i];
    if (f?.kind === 'group') {
      listed.add(uuid);
      rows.push({
        uuid,
        kind: 'group',
        name: null,
        before: null,
        memberOf: null,
        effect: `${f.meta.taskUUIDs.length} members revoked`,
      });
      f.meta.taskUUIDs.forEach((member, j) => {
        task(member, f.members[j], uuid);
      });
    } else task(uuid, f?.kind === 'task' ? f.state : undefined, null);
  });
  // Anything else revokeTasks revoked (it reads group metadata itself).
  for (const uuid of revoked) task(uuid, undefined, null);
  return rows;
}

function effectOf(state: string | undefined): string {
  switch (state) {
    case 'PENDING':
    case 'RETRY':
      return 'FAILURE (revoked before it ran)';
    case 'RECEIVED':
    case 'STARTED':
      return 'aborted by its worker, then FAILURE';
    case 'SUCCESS':
    case 'FAILURE':
      return 'had already finished: unchanged';
    default:
      return 'refused by any worker that receives it';
  }
}

function scheduleNames(raw: unknown): string[] {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const names = values.map((v) => String(v).trim());
  if (names.some((n) => n === '')) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', '--schedule needs the name of a periodic schedule.');
  }
  return [...new Set(names)];
}

function ttlOption(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TTL_MS;
  try {
    const ms = parseDuration(text.trim());
    if (ms > 0) return ms;
  } catch {
    // Reported below, in the CLI's words.
  }
  throw new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `--ttl ${text} is not a duration: use 90s, 30m, 1h or 24h.`,
  );
}

function showTtl(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
