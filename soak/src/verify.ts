import { type Broker, decodeTaskState, type TaskState, TaskStatus } from '@machinery/core';
import type { Redis } from 'ioredis';
import { soakKeys } from './config.js';
import { LIMIT_MAX, type LimitFigures, limitFigures, readLimitLog } from './limited.js';
import { dependencies, judge, type Outcome } from './outcomes.js';
import type { Expected } from './workload.js';

const CHUNK = 1000;

/** Reads the stored states of `uuids` (backend keys `<prefix><uuid>`) with MGET in chunks. */
export async function readStates(
  redis: Redis,
  prefix: string,
  uuids: readonly string[],
): Promise<Map<string, TaskState | undefined>> {
  const out = new Map<string, TaskState | undefined>();
  for (let i = 0; i < uuids.length; i += CHUNK) {
    const chunk = uuids.slice(i, i + CHUNK);
    const values = await redis.mget(...chunk.map((u) => prefix + u));
    chunk.forEach((u, j) => {
      const v = values[j];
      out.set(u, v === null || v === undefined ? undefined : decodeTaskState(v));
    });
  }
  return out;
}

/**
 * Polls until every expected UUID reached an outcome the soak accepts (`judge`: SUCCESS, or for the
 * revoked ones and those a revocation stopped, their own ends) or `deadline` passes. Only the UUIDs
 * still `waiting` (and what they depend on) are read again on each round. Returns those never settled.
 */
export async function waitForSettled(
  redis: Redis,
  prefix: string,
  expected: Expected,
  deadline: number,
  onRound?: (remaining: number) => void,
): Promise<string[]> {
  let remaining = [...expected.uuids];
  const states = new Map<string, TaskState | undefined>();
  for (;;) {
    const read = new Set(remaining);
    for (const u of remaining) for (const d of dependencies(expected, u)) read.add(d);
    for (const [u, s] of await readStates(redis, prefix, [...read])) states.set(u, s);
    remaining = remaining.filter((u) => judge(expected, states, u) === 'waiting');
    onRound?.(remaining.length);
    if (remaining.length === 0 || Date.now() >= deadline) return remaining;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The verdict figures of one broker run. */
export interface Verdict {
  expected: number;
  /** UUIDs stored as SUCCESS at the end (revoked ones that finished included). */
  succeeded: number;
  /** UUIDs by outcome (see `outcomes.ts`). */
  outcomes: Record<Outcome, number>;
  /** Revoked UUIDs by what their state was just before the revocation. */
  revokedBy: Record<string, number>;
  /** Tasks a revocation stopped: chain links never sent, chord callbacks failed without running. */
  stoppedLinks: number;
  stoppedCallbacks: number;
  /** Tasks that ran although a revocation should have stopped them (a callback fired past a revoked member). */
  ranThoughStopped: number;
  /** Task executions recorded more than {@link PAUSE_GRACE_MS} into a pause of the queue. */
  executionsInPauses: number;
  /** UUIDs that reached no accepted outcome (`waiting` at the end), by the state they were left in. */
  lost: number;
  lostByState: Record<string, number>;
  /** Lost UUIDs by their role in the workload (single, chain link 2/3…). */
  lostByRole: Record<string, number>;
  lostSample: string[];
  /** Executions beyond the first, summed over UUIDs. */
  duplicatedExecutions: number;
  /** UUIDs that ran more than once. */
  duplicatedTasks: number;
  /** UUIDs in SUCCESS whose body never recorded an execution (must be 0). */
  successWithoutExecution: number;
  /** Redelivered deliveries acknowledged without running (the worker's `duplicate` events). */
  suppressed: number;
  retried: number;
  /** Tasks that ended in FAILURE on a worker, revocations not included. */
  failed: number;
  /** Tasks a worker failed because they were revoked (before or while running). */
  revokedOnWorkers: number;
  workerErrors: number;
  chords: number;
  /** Chords triggered by a number of distinct members other than one (`triggerChord` winners). */
  chordTriggersNot1: number;
  /** Chords whose callback was published more than once: the winner's redelivery re-sent it. */
  chordCallbacksResent: number;
  /** Chords whose callback body ran more than once (redelivery; counted in the duplicates too). */
  chordCallbacksRunTwice: number;
  /** Chord callbacks or last chain links whose result is not the expected sum. */
  wrongResults: number;
  /** Executions of the concurrency-limited tasks, per key at most `LIMIT_MAX` live at any instant. */
  limits: LimitFigures;
  /** Hand-backs of limited tasks (a full key, or a pause, or a stopping worker). */
  limitedHandedBack: number;
  /** Who ran / sent / suppressed what, when, for a few of the anomalies (chords ≠ 1, duplicates). */
  examples: string[];
}

/** The worker processes of a run, to name pids in the examples. */
export interface ProcessInfo {
  t0: number;
  processes: { pid: number; label: string; started: number; ended?: number; how?: string }[];
  /** When the queue was paused and resumed (ms since epoch). */
  pauses: readonly { from: number; to: number }[];
}

/** Workers stop fetching within about a second of a pause; executions later than this into one are counted. */
export const PAUSE_GRACE_MS = 1500;

function explain(
  uuid: string,
  role: string,
  logs: { exec: string[]; sent: string[]; dup: string[] },
  info: ProcessInfo,
): string {
  const t = (ms: string | number) => `+${((Number(ms) - info.t0) / 1000).toFixed(2)} s`;
  const who = (pid: string) => {
    const p = info.processes.find((x) => String(x.pid) === pid);
    if (!p) return `pid ${pid}`;
    return p.how === 'SIGKILLed' && p.ended !== undefined ? `${p.label} (SIGKILLed ${t(p.ended)})` : p.label;
  };
  const pick = (lines: string[], what: (f: string[]) => string) =>
    lines.filter((l) => l.startsWith(`${uuid} `)).map((l) => what(l.split(' ')));
  const runs = pick(logs.exec, (f) => `ran on ${who(f[1] ?? '')} attempt ${f[2]} at ${t(f[3] ?? 0)}`);
  const sends = pick(logs.sent, (f) => `published by ${who(f[1] ?? '')} at ${t(f[3] ?? 0)}`);
  const dups = pick(logs.dup, (f) => `redelivery suppressed on ${who(f[1] ?? '')} at ${t(f[3] ?? 0)}`);
  return `${uuid} (${role}): ${[...sends, ...runs, ...dups].join('; ') || 'no trace'}`;
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));

/** Reads the backend and the soak's counters and compares them with what was sent. */
export async function verdict(
  redis: Redis,
  prefix: string,
  expected: Expected,
  info: ProcessInfo,
): Promise<Verdict> {
  const keys = soakKeys(prefix);
  const states = await readStates(redis, prefix, expected.uuids);
  const [exec, chordRuns, chordSent, chordWins, stats, execLog, sentLog, dupLog, limitLog] =
    await Promise.all([
      redis.hgetall(keys.exec),
      redis.hgetall(keys.chord),
      redis.hgetall(keys.chordSent),
      redis.hgetall(keys.chordWins),
      redis.hgetall(keys.stats),
      redis.lrange(keys.execLog, 0, -1),
      redis.lrange(keys.sentLog, 0, -1),
      redis.lrange(keys.dupLog, 0, -1),
      redis.lrange(keys.limitLog, 0, -1),
    ]);
  const logs = { exec: execLog, sent: sentLog, dup: dupLog };
  const examples: string[] = [];
  const example = (uuid: string) => {
    const sources = (expected.sources.get(uuid) ?? []).map(
      (u) => `← ${explain(u, expected.roles.get(u) ?? '?', logs, info)}`,
    );
    examples.push([explain(uuid, expected.roles.get(uuid) ?? '?', logs, info), ...sources].join(' '));
  };
  let succeeded = 0;
  const outcomes: Record<Outcome, number> = {
    succeeded: 0,
    revokedFailed: 0,
    revokedFinished: 0,
    stopped: 0,
    ranThoughStopped: 0,
    waiting: 0,
  };
  let stoppedLinks = 0;
  let stoppedCallbacks = 0;
  let ranThoughStopped = 0;
  let duplicatedExecutions = 0;
  let duplicatedTasks = 0;
  let successWithoutExecution = 0;
  const lostByState: Record<string, number> = {};
  const lostByRole: Record<string, number> = {};
  const lostSample: string[] = [];
  for (const uuid of expected.uuids) {
    const state = states.get(uuid);
    const runs = num(exec[uuid]);
    if (runs > 1) {
      if (duplicatedTasks < 3) example(uuid);
      duplicatedTasks++;
      duplicatedExecutions += runs - 1;
    }
    let outcome = judge(expected, states, uuid);
    // A stopped task never runs: a chain link is never sent, a chord callback is failed unsent.
    if (outcome === 'stopped' && runs > 0) outcome = 'ranThoughStopped';
    outcomes[outcome]++;
    if (outcome === 'stopped') {
      if (expected.roles.get(uuid) === 'chord callback') stoppedCallbacks++;
      else stoppedLinks++;
    }
    if (outcome === 'ranThoughStopped' && ranThoughStopped++ < 3) example(uuid);
    if (state?.state === TaskStatus.SUCCESS) {
      succeeded++;
      if (runs === 0) successWithoutExecution++;
    }
    if (outcome === 'waiting') {
      const s = state?.state ?? 'missing';
      const role = expected.roles.get(uuid) ?? '?';
      lostByState[s] = (lostByState[s] ?? 0) + 1;
      lostByRole[role] = (lostByRole[role] ?? 0) + 1;
      if (lostSample.length < 3) example(uuid);
      if (lostSample.length < 5) {
        lostSample.push(
          `${uuid} (${role}${expected.revoked.has(uuid) ? ', revoked' : ''}, ${s}, ran ${runs}×${state?.error ? `, error: ${state.error}` : ''})`,
        );
      }
    }
  }
  let wrongResults = 0;
  const resultOf = (uuid: string) => {
    const v = states.get(uuid)?.results?.[0]?.value;
    return typeof v === 'bigint' ? Number(v) : v;
  };
  for (const [uuid, sum] of [...expected.chords, ...expected.chains]) {
    if (states.get(uuid)?.state === TaskStatus.SUCCESS && resultOf(uuid) !== sum) wrongResults++;
  }
  // Members that won each group's trigger: exactly one may (its redelivery may win again).
  const winners = new Map<string, Set<string>>();
  for (const field of Object.keys(chordWins)) {
    const [group = '', by = ''] = field.split(' ');
    const set = winners.get(group) ?? new Set<string>();
    set.add(by);
    winners.set(group, set);
  }
  let chordTriggersNot1 = 0;
  let chordCallbacksResent = 0;
  let chordCallbacksRunTwice = 0;
  for (const uuid of expected.chords.keys()) {
    // Counted after the fact: a worker killed between a win (or a publish) and its count counts none,
    // but the callback then still ran — or, once revoked or failed for a revoked member, has a final
    // state, which only a trigger gives it — which shows the trigger happened.
    const ran = num(chordRuns[uuid]) > 0;
    const final = states.get(uuid)?.state;
    const fired = ran || final === TaskStatus.SUCCESS || final === TaskStatus.FAILURE;
    const won = winners.get(expected.chordGroups.get(uuid) ?? '')?.size ?? 0;
    const triggers = won === 0 && fired ? 1 : won;
    const sent = num(chordSent[uuid]) === 0 && ran ? 1 : num(chordSent[uuid]);
    if (triggers !== 1 && chordTriggersNot1++ < 3) example(uuid);
    if (sent > 1 && chordCallbacksResent++ < 2) example(uuid);
    if (num(chordRuns[uuid]) > 1) chordCallbacksRunTwice++;
  }
  const revokedBy: Record<string, number> = {};
  for (const what of expected.revoked.values()) revokedBy[what] = (revokedBy[what] ?? 0) + 1;
  // An execution whose end was never recorded was live until its process exited (SIGKILLed while it
  // ran); its slot stayed taken until its lease lapsed, later still.
  const exitOf = (pid: number) => info.processes.find((p) => p.pid === pid)?.ended;
  const limits = limitFigures(readLimitLog(limitLog, exitOf), LIMIT_MAX);
  const at = (ms: number) => `+${((ms - info.t0) / 1000).toFixed(3)} s`;
  const label = (pid: number) => {
    const p = info.processes.find((x) => x.pid === pid);
    return p === undefined
      ? `pid ${pid}`
      : `${p.label}${p.how === 'SIGKILLed' ? ` (SIGKILLed ${at(p.ended ?? 0)})` : ''}`;
  };
  for (const live of limits.overlaps) {
    examples.push(
      `limit of ${live[0]?.key} exceeded, live at once: ${live
        .map(
          (e) =>
            `${e.uuid} on ${label(e.pid)} ${at(e.start)} → ${at(e.end)}${e.cutShort ? ' (no end recorded)' : ''}`,
        )
        .join('; ')}`,
    );
  }
  const executionsInPauses = execLog.filter((line) => {
    const at = Number(line.split(' ')[3]);
    return info.pauses.some((p) => at >= p.from + PAUSE_GRACE_MS && at <= p.to);
  }).length;
  return {
    expected: expected.uuids.length,
    succeeded,
    outcomes,
    revokedBy,
    stoppedLinks,
    stoppedCallbacks,
    ranThoughStopped,
    executionsInPauses,
    lost: outcomes.waiting,
    lostByState,
    lostByRole,
    lostSample,
    duplicatedExecutions,
    duplicatedTasks,
    successWithoutExecution,
    suppressed: num(stats.suppressed),
    retried: num(stats.retried),
    failed: num(stats.failed),
    revokedOnWorkers: num(stats.revoked),
    workerErrors: num(stats.errors),
    chords: expected.chords.size,
    chordTriggersNot1,
    chordCallbacksResent,
    chordCallbacksRunTwice,
    wrongResults,
    limits,
    limitedHandedBack: num(stats.limitedHandedBack),
    examples,
  };
}

/**
 * Where the broker still holds the UUIDs that did not succeed (queue, delayed, dead letters), as far
 * as it can be inspected; a diagnostic for the report, never part of the verdict.
 */
export async function locate(broker: Broker, queue: string, uuids: readonly string[]): Promise<string> {
  const wanted = new Set(uuids);
  const parts: string[] = [];
  const count = (list: readonly { uuid: string }[]) => list.filter((s) => wanted.has(s.uuid)).length;
  const tryList = async (what: string, ok: boolean, fn: () => Promise<number>) => {
    if (!ok) return;
    try {
      parts.push(`${await fn()} in ${what}`);
    } catch (err) {
      parts.push(`${what}: ${(err as Error).message}`);
    }
  };
  await tryList('queue', broker.capabilities.pendingInspection, async () =>
    count(await broker.pendingTasks(queue)),
  );
  await tryList('delayed', broker.capabilities.delayedInspection, async () =>
    count(await broker.delayedTasks()),
  );
  await tryList('dead letters', broker.capabilities.deadLetterInspection, async () => {
    const letters = await broker.deadLetters();
    return letters.filter((l) => uuids.some((u) => l.body.includes(u))).length;
  });
  return parts.length === 0 ? 'broker cannot be inspected' : parts.join(', ');
}

/**
 * Redis broker only: every broker key of the run (`<prefix><queue>*`, the delayed set) with its size
 * and how many of `uuids` it still holds — where a lost task stopped (a lease never reaped, a staging
 * list never claimed…).
 */
export async function locateInRedis(
  redis: Redis,
  prefix: string,
  queue: string,
  uuids: readonly string[],
): Promise<string> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}${queue}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  keys.push(`${prefix}delayed_tasks`);
  const parts: string[] = [];
  for (const key of keys.sort()) {
    const type = await redis.type(key);
    let values: string[] = [];
    if (type === 'list') values = await redis.lrange(key, 0, -1);
    else if (type === 'hash') values = Object.values(await redis.hgetall(key));
    else if (type === 'zset') values = await redis.zrange(key, '0', '-1');
    else if (type === 'string') values = [(await redis.get(key)) ?? ''];
    if (type === 'none') continue;
    const held = uuids.filter((u) => values.some((v) => v.includes(u))).length;
    parts.push(
      `${key.slice(prefix.length)} (${type}, ${values.length}${held > 0 ? `, holds ${held} lost` : ''})`,
    );
  }
  return parts.join(', ') || 'no broker keys';
}
