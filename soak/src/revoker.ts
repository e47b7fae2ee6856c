import { setTimeout as sleep } from 'node:timers/promises';
import { type Server, TaskStatus, type Unsubscribe } from '@machinery/core';
import type { Redis } from 'ioredis';
import { soakKeys } from './config.js';
import { readStates } from './verify.js';
import type { Expected } from './workload.js';

/** Options of {@link Revoker}. */
export interface RevokerOptions {
  /** The producer's server: it has the run's control plane and backend (`server.revoke`). */
  server: Server;
  /** Redis of the backend (direct), to read what each task was doing when revoked. */
  redis: Redis;
  prefix: string;
  expected: Expected;
  /** Pause between two rounds, drawn uniformly from [min, max] ms. */
  everyMs: readonly [number, number];
  /**
   * Share of the UUIDs sent that get revoked in rounds (each round revokes its share of those sent
   * since the last); half the slow tasks are revoked besides, as they start.
   */
  share: number;
  /** Reports a failed round (the run goes on). */
  log: (line: string) => void;
}

/** Tasks seen starting, the most recent kept: candidates for a revocation that reaches a running task. */
const STARTED_KEPT = 64;
/** The most recent sends: most are still queued (the producer keeps the workers busy). */
const RECENT_SENT = 200;
/** The most recent planned failures: those whose first attempt failed wait for their retry (1 s). */
const RECENT_FLAKY = 40;
/** Share of the slow tasks revoked as soon as they are seen starting. */
const SLOW_REVOKED = 0.5;

/** What a task was doing when revoked, from its stored state. */
function stage(state: TaskStatus | undefined): string {
  switch (state) {
    case undefined:
      return 'not sent yet';
    case TaskStatus.PENDING:
      return 'queued';
    case TaskStatus.RECEIVED:
    case TaskStatus.STARTED:
      return 'running';
    case TaskStatus.RETRY:
      return 'failed, retry not sent yet';
    default:
      return 'already finished';
  }
}

/**
 * The soak's revocations: every few seconds it revokes a random sample of the tasks sent — some
 * queued (recent sends), some just started (from the `started` task events), some waiting for their
 * retry (planned failures whose first attempt failed), and whatever else the draw gives (chain links
 * and chord callbacks not sent yet, tasks already finished). Half the slow tasks are revoked as soon
 * as their `started` event arrives, so that some revocations reach a running task. Each UUID is
 * recorded in `expected.revoked` before it is revoked (a revocation that fails half-way is still
 * accounted for: its task then simply succeeds), with the stage its stored state showed just before.
 */
export class Revoker {
  /** Calls of `server.revoke` (one per round, one per slow task revoked as it starts), and failed ones. */
  calls = 0;
  failedCalls = 0;
  private readonly started: string[] = [];
  private unsubscribe: Unsubscribe | undefined;
  private counted = 0;
  /** Revocations of slow tasks seen starting, in flight. */
  private readonly immediate = new Set<Promise<void>>();

  constructor(private readonly o: RevokerOptions) {}

  /** Follows the task events, then revokes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const control = this.o.server.control;
    if (control === undefined) throw new Error('the soak revoker needs a server with a control plane');
    this.unsubscribe = await control.events.subscribe((event) => {
      if (event.type !== 'started' || signal.aborted) return;
      const uuid = event.taskUUID;
      if (this.o.expected.slow.has(uuid) && !this.o.expected.revoked.has(uuid)) {
        if (Math.random() < SLOW_REVOKED) {
          const p = this.revoke([uuid]).finally(() => this.immediate.delete(p));
          this.immediate.add(p);
        }
        return;
      }
      this.started.push(uuid);
      if (this.started.length > STARTED_KEPT) this.started.shift();
    });
    this.counted = this.o.expected.uuids.length;
    try {
      while (!signal.aborted) {
        const [min, max] = this.o.everyMs;
        await sleep(min + Math.random() * (max - min), undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        await this.round();
      }
    } finally {
      await this.unsubscribe();
      await Promise.all(this.immediate);
    }
  }

  /** Planned failures whose first attempt failed and whose retry has not run yet. */
  private async retrying(): Promise<string[]> {
    const recent = this.o.expected.flaky.slice(-RECENT_FLAKY);
    if (recent.length === 0) return [];
    const keys = soakKeys(this.o.prefix);
    const [attempts, runs] = await Promise.all([
      this.o.redis.hmget(keys.attempts, ...recent),
      this.o.redis.hmget(keys.exec, ...recent),
    ]);
    return recent.filter((_, i) => attempts[i] === '1' && runs[i] === null);
  }

  private async round(): Promise<void> {
    const { expected, share } = this.o;
    const fresh = expected.uuids.length - this.counted;
    this.counted = expected.uuids.length;
    const wanted = Math.max(1, Math.round(fresh * share));
    let retrying: string[] = [];
    try {
      retrying = await this.retrying();
    } catch (err) {
      this.o.log(`reading the planned failures failed: ${(err as Error).message}`);
    }
    const pools = [expected.uuids.slice(-RECENT_SENT), [...this.started], retrying];
    const picked = new Set<string>();
    for (let i = 0; picked.size < wanted && i < wanted * 6; i++) {
      const pool = pools[i % pools.length] ?? [];
      const uuid = pool[Math.floor(Math.random() * pool.length)];
      if (uuid !== undefined && !expected.revoked.has(uuid)) picked.add(uuid);
    }
    if (picked.size === 0) return;
    await this.revoke([...picked], new Set(retrying));
  }

  /** Revokes `uuids`; those in `delayed` wait for their retry (their state is PENDING again meanwhile). */
  private async revoke(uuids: string[], delayed: ReadonlySet<string> = new Set()): Promise<void> {
    const { expected } = this.o;
    this.calls++;
    // Recorded before anything can fail: a revocation half-done still counts, its task then succeeds.
    for (const uuid of uuids) expected.revoked.set(uuid, 'unknown');
    try {
      const states = await readStates(this.o.redis, this.o.prefix, uuids);
      for (const uuid of uuids) {
        const state = states.get(uuid)?.state;
        // A retry is sent again at once, with its ETA: PENDING, and delayed by the broker.
        const waiting = delayed.has(uuid) && state === TaskStatus.PENDING;
        expected.revoked.set(uuid, waiting ? 'delayed (waiting for its retry)' : stage(state));
      }
      await this.o.server.revoke(uuids, { reason: 'soak chaos' });
    } catch (err) {
      this.failedCalls++;
      this.o.log(`revoking ${uuids.length} tasks failed: ${(err as Error).message}`);
    }
  }
}
