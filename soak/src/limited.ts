import { randomBytes } from 'node:crypto';
import { argValue, type TaskMiddleware } from '@machinery/core';
import type { Redis } from 'ioredis';
import { LIMITED } from './config.js';

// The concurrency-limited share of the mix: `soak_limited(n, key, ms)` declares `concurrencyLimit`
// (at most LIMIT_MAX at once per key, across the three worker processes, counted in a RedisFlowControl).
// Each execution is recorded — its start before the task function runs, its end after it — by a worker
// middleware that runs inside the flow middleware (after the slot is taken, before it is given back), so
// a recorded interval always covers the function's run. The verdict then counts, per key, the instants
// at which more than LIMIT_MAX executions were live.

/** Keys the limited tasks are spread over. */
export const LIMIT_KEYS = ['k0', 'k1', 'k2', 'k3'] as const;
/** Executions at once per key. */
export const LIMIT_MAX = 2;
/**
 * Lease of a slot: a SIGKILLed holder's slot frees this long after its last renewal (every third of
 * it). Longer than the broker lease so that a renewal delayed by a loaded machine does not lapse.
 */
export const LIMIT_LEASE_MS = 5000;
/** Wait of a task that found its key's slots taken (jittered by the middleware: 150–450 ms). */
export const LIMIT_RETRY_MS = 300;
/** How long a limited task runs, drawn from [min, max] ms: long enough for its key to fill up. */
export const LIMITED_MS: readonly [number, number] = [100, 300];
/** Limited tasks sent at once for one key (twice its max: half of them wait for a slot). */
export const LIMITED_BURST = 4;

/**
 * Records the start and end of every execution of a limited task in `key` (a Redis list). The start
 * is written before the task runs and the end before the slot is given back, both awaited: an
 * execution whose start is not recorded never ran its function, and one whose end is missing ended
 * with its process (the verdict takes the process's exit as its end).
 */
export function recordLimited(redis: Redis, key: string): TaskMiddleware {
  return async (context, next) => {
    if (context.task.name !== LIMITED) return next();
    const id = randomBytes(6).toString('hex');
    const arg = context.signature.args?.[1];
    const limitKey = arg === undefined ? '?' : String(argValue(arg));
    await redis.rpush(key, `start ${id} ${context.signature.uuid} ${process.pid} ${limitKey} ${Date.now()}`);
    try {
      await next();
    } finally {
      await redis.rpush(key, `end ${id} ${Date.now()}`);
    }
  };
}

/** One recorded execution of a limited task. */
export interface LimitedExecution {
  uuid: string;
  pid: number;
  key: string;
  start: number;
  /** Its recorded end, or the exit of its process when it has none (SIGKILLed while it ran). */
  end: number;
  /** True when the end is its process's exit. */
  cutShort: boolean;
}

/**
 * The executions in a limit log. `exitOf(pid)` is when a worker process exited (ms since epoch),
 * `undefined` while it runs — an execution without an end whose process still runs is live to the end
 * of time, which counts against the limit rather than for it.
 */
export function readLimitLog(
  lines: readonly string[],
  exitOf: (pid: number) => number | undefined,
): LimitedExecution[] {
  const ends = new Map<string, number>();
  for (const line of lines) {
    const [what, id = '', at = ''] = line.split(' ');
    if (what === 'end') ends.set(id, Number(at));
  }
  const out: LimitedExecution[] = [];
  for (const line of lines) {
    const [what, id = '', uuid = '', pid = '', key = '', at = ''] = line.split(' ');
    if (what !== 'start') continue;
    const end = ends.get(id);
    out.push({
      uuid,
      pid: Number(pid),
      key,
      start: Number(at),
      end: end ?? exitOf(Number(pid)) ?? Number.POSITIVE_INFINITY,
      cutShort: end === undefined,
    });
  }
  return out;
}

/** What the verdict reports of the limited tasks. */
export interface LimitFigures {
  executions: number;
  /** Executions whose process was SIGKILLed (or stopped) while they ran: live until that exit. */
  cutShort: number;
  /**
   * Starts at which more than `max` executions of their key were live (each counts once, however many
   * over): must be 0.
   */
  exceeded: number;
  /** Most executions of each key live at one instant. */
  peak: Record<string, number>;
  /** The executions live at the first few starts that exceeded the limit. */
  overlaps: LimitedExecution[][];
}

/**
 * Counts, per key, the instants at which more than `max` executions were live. An execution is live
 * from its recorded start to its recorded end (or its process's exit); at one millisecond, ends come
 * before starts — a slot is given back after its holder's end is recorded and taken before the next
 * start is, so a hand-over within a millisecond is not an overlap.
 */
export function limitFigures(executions: readonly LimitedExecution[], max: number): LimitFigures {
  const byKey = new Map<string, LimitedExecution[]>();
  for (const e of executions) {
    const list = byKey.get(e.key) ?? [];
    list.push(e);
    byKey.set(e.key, list);
  }
  const figures: LimitFigures = {
    executions: executions.length,
    cutShort: executions.filter((e) => e.cutShort).length,
    exceeded: 0,
    peak: {},
    overlaps: [],
  };
  for (const [key, list] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    const events = list.flatMap((e) => [
      { at: e.start, starts: true, e },
      { at: e.end, starts: false, e },
    ]);
    events.sort((a, b) => a.at - b.at || Number(a.starts) - Number(b.starts));
    const live = new Set<LimitedExecution>();
    let peak = 0;
    for (const { starts, e } of events) {
      if (!starts) {
        live.delete(e);
        continue;
      }
      live.add(e);
      peak = Math.max(peak, live.size);
      if (live.size > max) {
        figures.exceeded++;
        if (figures.overlaps.length < 3) figures.overlaps.push([...live]);
      }
      // Started and ended within one millisecond: its end sorted before its start, so it leaves now.
      if (e.end <= e.start) live.delete(e);
    }
    figures.peak[key] = peak;
  }
  return figures;
}
