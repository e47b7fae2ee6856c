import { randomBytes } from 'node:crypto';
import {
  type Consumer,
  type Delivery,
  Dictionary,
  decodeSignature,
  errorText,
  type NackOptions,
  redactText,
  type Signature,
} from '@machinery/core';
import {
  ACK_CARRIER,
  type CarriedAck,
  type CarriedStep,
  dropRedisConnection,
  LuaScript,
  redisConnectionError,
  type StepCarrier,
} from '@machinery/redis-connection';
import { Cluster, type Redis } from 'ioredis';
import { duplicateForBlocking } from './connection.js';
import { type BrokerContext, retryPause, unixNanos, withTimeout } from './context.js';
import type { QueueKeys } from './keys.js';
import { CLAIM, EXTEND, REAP, RENEW, SETTLE, UNSTAGE } from './scripts.js';

const claimScript = new LuaScript(CLAIM);
const settleScript = new LuaScript(SETTLE);
const renewScript = new LuaScript(RENEW);
const extendScript = new LuaScript(EXTEND);
const reapScript = new LuaScript(REAP);
const unstageScript = new LuaScript(UNSTAGE);

/**
 * What settling a lease does with its task: `ack` removes it; `requeue` puts it back at the head of
 * its queue; `release` does too without counting the delivery (claimed after `stop()`); `delay` moves
 * it to the delayed set; `deadLetter` moves it to the dead letters.
 */
type Settlement = 'ack' | 'requeue' | 'release' | 'delay' | 'deadLetter';

/** The SETTLE script's one-letter spelling of each settlement (see scripts.ts). */
const SCRIPT_SETTLEMENT: Readonly<Record<Settlement, string>> = {
  ack: 'a',
  requeue: 'r',
  release: 'l',
  delay: 'd',
  deadLetter: 'x',
};

interface PendingOp {
  readonly settlement: Settlement;
  readonly token: string;
  /** For `delay` the due time in Unix nanoseconds, for `deadLetter` the reason; otherwise `''`. */
  readonly detail: string;
  resolve(ok: boolean): void;
  reject(err: unknown): void;
}

/** A settle script call prepared for a batch of operations: what to send and what to do with the reply. */
interface SettleCall {
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  done(reply: unknown): void;
  failed(err: unknown): void;
}

/** Most settle operations sent in one script call. */
const MAX_OPS_PER_CALL = 2000;
/** Most expired leases returned in one reaper call; a full batch is followed at once by another. */
const REAP_LIMIT = 1000;
/** How long `stop()` waits for an interrupted blocking wait before dropping its connection. */
const UNBLOCK_GRACE_MS = 1000;
/** How long stopping and closing wait for Redis before giving up on a tidy exit. */
const STOP_GRACE_MS = 2000;

/** One task handed to a consumer; settles through the consumer's batched settle script. */
class RedisDelivery implements Delivery {
  readonly redelivered: boolean;

  constructor(
    readonly signature: Signature,
    readonly queue: string,
    readonly attempt: number,
    readonly token: string,
    private readonly consumer: RedisConsumer,
  ) {
    this.redelivered = attempt > 1;
  }

  ack(): Promise<boolean> {
    return this.consumer.settle(this.token, 'ack', '');
  }

  /** Offers the acknowledgement to a Redis backend on the same server (see `carriedAck`). */
  get [ACK_CARRIER](): CarriedAck {
    return { carrier: this.consumer, item: this.token };
  }

  nack(options: NackOptions = {}): Promise<boolean> {
    if (options.requeue === false)
      return this.consumer.settle(this.token, 'deadLetter', options.reason ?? 'rejected');
    if (options.delayMs !== undefined && options.delayMs > 0) {
      return this.consumer.settle(this.token, 'delay', unixNanos(Date.now() + options.delayMs));
    }
    return this.consumer.settle(this.token, 'requeue', '');
  }

  extendLease(ms: number): Promise<boolean> {
    return this.consumer.extend(this.token, ms);
  }
}

/**
 * Consumes one queue for one `consume()` call.
 *
 * Flow: while the last claim came back full (`drain`), tasks are claimed in batches — a batch of
 * acknowledgements carries the claim of the next tasks in the same script call. Once the queue is
 * empty (`block`), a dedicated connection waits with `BLMOVE queue → staging` and, pipelined right
 * behind it on the same connection, the claim script turns the staged task (plus any others waiting)
 * into leases — one round trip from idle to running, nothing in transit that a crash could lose.
 * Every delivery is leased under a fresh token; held leases are renewed in one call per tick; a
 * reaper returns expired leases of dead workers to the queue head.
 */
export class RedisConsumer implements Consumer, StepCarrier<string> {
  /** Random id: names the staging list and prefixes lease tokens. */
  readonly id = randomBytes(6).toString('base64url');
  private readonly keys: QueueKeys;
  private readonly staging: string;
  private readonly tokenPrefix: string;
  private readonly settleKeys: string[];
  private readonly claimKeyList: string[];
  /** Extra settle/reap arguments: the channel to ring, with priorities; else none. */
  private readonly bellArgs: string[];
  /** A task landed on a priority list since the last blocking wait began: claim before waiting again. */
  private rung = false;
  /** Ends the subscription to the queue's bell (with priorities). */
  private unlistenBell: (() => void) | undefined;
  private outstanding = 0;
  /** The lease tokens held. Not a `Set`: one comes and goes per task (see core's `Dictionary`). */
  private readonly held = new Dictionary<true>();
  private mode: 'drain' | 'block' = 'drain';
  private fetching: Promise<void> | undefined;
  private stopped = false;
  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }
  private closed = false;
  private stopping: Promise<void> | undefined;
  private counter = 0;
  private ops: PendingOp[] = [];
  private flushScheduled = false;
  private readonly flushes = new Set<Promise<void>>();
  private blocking: Redis | Cluster | undefined;
  private blockingId: number | undefined;
  private blockWait: Promise<unknown> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  /** Claims that failed in a row (0 after a success): the length of the next pause. */
  private fetchFailures = 0;
  /** Reaper sweeps that failed in a row. */
  private reapFailures = 0;
  /** Ends a back-off pause early (set while one runs). */
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly ctx: BrokerContext,
    readonly queue: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    private readonly capacity: number,
    private readonly onStopped: (consumer: RedisConsumer) => void,
  ) {
    this.keys = ctx.keys.queue(queue);
    this.staging = this.keys.staging + this.id;
    this.tokenPrefix = `${this.id}:`;
    this.settleKeys = [
      this.keys.queue,
      this.keys.leases,
      this.keys.inflight,
      ctx.keys.attempts,
      this.staging,
      ctx.keys.delayed,
      ctx.keys.dead,
      ...this.keys.levels,
    ];
    this.claimKeyList = [
      this.keys.queue,
      this.keys.leases,
      this.keys.inflight,
      ctx.keys.attempts,
      this.staging,
      ...this.keys.levels,
    ];
    this.bellArgs = this.keys.levels.length > 0 ? [this.keys.bell] : [];
  }

  /** Keeps the unsubscribe of this consumer's bell, called when it stops. */
  onBell(unlisten: () => void): void {
    this.unlistenBell = unlisten;
  }

  /**
   * A task landed on one of the queue's priority lists: an idle consumer blocked on the queue list
   * would not see it, so the wait is ended (`CLIENT UNBLOCK`) and the consumer claims at once. Where
   * it cannot be ended (Cluster, or no permission), the task waits for the wait's end.
   */
  ring(): void {
    if (this.stopped) return;
    this.rung = true;
    this.mode = 'drain';
    const wait = this.blockWait;
    if (wait !== undefined) void this.unblock(wait, 3);
  }

  /**
   * Ends the blocking wait `wait` if it is still the current one. The ring can overtake the `BLMOVE`
   * it is meant to end (they travel on different connections), so an `UNBLOCK` that found nothing
   * blocked is tried again a little later, a few times, while the same wait is still on.
   */
  private async unblock(wait: Promise<unknown>, tries: number): Promise<void> {
    const id = this.blockingId;
    if (this.blockWait !== wait || id === undefined || this.blocking?.status !== 'ready') return;
    if (this.ctx.client.status !== 'ready') return;
    let done = false;
    try {
      done = Number(await (this.ctx.client as Redis).client('UNBLOCK', id)) === 1;
    } catch {
      return; // No permission: the wait ends by its timeout.
    }
    if (done || tries <= 1) return;
    setTimeout(() => void this.unblock(wait, tries - 1), 20).unref();
  }

  /** Registers the consumer (heartbeat), starts renewal and reaping, and the first claim. */
  async start(): Promise<void> {
    await this.renew();
    const every = Math.max(50, Math.floor(this.ctx.options.leaseMs / 3));
    this.renewTimer = setInterval(() => {
      this.renew().catch((err) => this.ctx.reportError('lease renewal', err));
    }, every);
    this.scheduleReap(0);
    this.pump();
  }

  // ---- claiming --------------------------------------------------------------------------------

  private claimArgs(n: number, onlyStaged: boolean): { start: number; args: (string | number)[] } {
    const start = this.counter;
    this.counter += n;
    return { start, args: [n, this.ctx.options.leaseMs, this.tokenPrefix, start, onlyStaged ? '1' : '0'] };
  }

  /** Starts the next claim when there is room and none is running. */
  private pump(): void {
    if (this.stopped || this.fetching !== undefined) return;
    const free = this.capacity - this.outstanding;
    if (free <= 0) return;
    const n = Math.min(free, this.ctx.options.batchSize);
    const run = this.mode === 'drain' ? this.claim(n) : this.blockAndClaim(n);
    this.fetching = run.finally(() => {
      this.fetching = undefined;
      this.pump();
    });
  }

  private async claim(n: number): Promise<void> {
    const { start, args } = this.claimArgs(n, false);
    this.outstanding += n;
    let reply: unknown;
    try {
      reply = await claimScript.run(this.ctx.client, this.claimKeys(), args);
    } catch (err) {
      this.outstanding -= n;
      await this.fetchFailed(err);
      return;
    }
    this.fetchFailures = 0;
    const got = this.accept(reply, start, n);
    this.mode = got < n ? 'block' : 'drain';
  }

  private claimKeys(): string[] {
    return this.claimKeyList;
  }

  private async blockAndClaim(n: number): Promise<void> {
    let conn: Redis | Cluster;
    try {
      conn = await this.blockingConnection();
    } catch (err) {
      await this.fetchFailed(err);
      return;
    }
    if (this.stopped) return;
    if (this.rung) {
      // A priority task arrived while the last claim was on its way: claim it instead of waiting.
      this.rung = false;
      this.mode = 'drain';
      return;
    }
    const { start, args } = this.claimArgs(n, true);
    this.outstanding += n;
    // Both commands are written at once: Redis runs the claim as soon as BLMOVE returns, without a
    // round trip in between. BLMOVE's own reply only tells whether it timed out; the claim says what
    // was taken.
    const moved = conn.blmove(
      this.keys.queue,
      this.staging,
      'LEFT',
      'RIGHT',
      this.ctx.options.blockTimeoutMs / 1000,
    );
    const claimed = claimScript.run(conn, this.claimKeys(), args);
    this.blockWait = moved.catch(() => null);
    let reply: unknown;
    try {
      reply = await claimed;
    } catch (err) {
      this.outstanding -= n;
      await this.blockWait;
      this.blockWait = undefined;
      if (!this.stopped) await this.fetchFailed(err);
      return;
    }
    await this.blockWait;
    this.blockWait = undefined;
    // A ring during the wait already switched to draining; the next claim takes what it announced.
    this.rung = false;
    this.fetchFailures = 0;
    const got = this.accept(reply, start, n);
    if (got >= n) this.mode = 'drain';
  }

  private async blockingConnection(): Promise<Redis | Cluster> {
    if (this.blocking) return this.blocking;
    const conn = duplicateForBlocking(this.ctx.client);
    conn.on('error', (err: Error) => {
      this.ctx.logger.debug({ err: redactText(err.message), queue: this.queue }, 'blocking connection error');
    });
    this.blocking = conn;
    if (!(conn instanceof Cluster)) {
      // A known id lets stop() end a wait with CLIENT UNBLOCK instead of dropping the connection.
      // After a reconnect the id is stale: forget it (stop() then drops the connection).
      conn.on('ready', () => {
        this.blockingId = undefined;
      });
      this.blockingId = await conn.client('ID').catch(() => undefined);
    }
    return conn;
  }

  private async fetchFailed(err: unknown): Promise<void> {
    if (this.stopped) return;
    this.ctx.reportError(`claiming tasks from "${this.queue}"`, err);
    this.fetchFailures++;
    // The pause ends early when the consumer stops, so no timer outlives it.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, retryPause(this.fetchFailures));
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  /**
   * Turns a claim reply into deliveries. Undecodable bodies are dead-lettered with the reason; tasks
   * claimed after `stop()` are released back to the queue head. Returns how many were claimed.
   */
  private accept(reply: unknown, start: number, reserved: number): number {
    const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
    const got = flat.length / 3;
    this.outstanding -= reserved - got;
    for (let i = 0; i < got; i++) {
      // Tokens are named by their index: a replayed claim may hand back only some of its range.
      const token = this.tokenPrefix + (start + Number(flat[3 * i]));
      const attempt = Number(flat[3 * i + 1]);
      const body = String(flat[3 * i + 2]);
      this.held.set(token, true);
      if (this.stopped) {
        void this.settle(token, 'release', '').catch(() => {});
        continue;
      }
      let signature: Signature;
      try {
        signature = decodeSignature(body, { maxBytes: this.ctx.options.maxMessageBytes });
      } catch (err) {
        // The reason may quote the message, so it is kept in the dead letter and logged at debug only.
        this.ctx.logger.warn(
          { queue: this.queue },
          'dead-lettering an undecodable message (see deadLetters())',
        );
        this.ctx.logger.debug({ queue: this.queue, reason: errorText(err) }, 'undecodable message');
        this.settle(token, 'deadLetter', errorText(err)).catch((e) =>
          this.ctx.reportError('dead-lettering', e),
        );
        continue;
      }
      const delivery = new RedisDelivery(signature, this.queue, attempt, token, this);
      try {
        this.onDelivery(delivery);
      } catch (err) {
        // A handler that throws has not taken the task: give it back rather than renew it forever.
        this.ctx.reportError('the delivery handler', err);
        void delivery.nack({ requeue: true }).catch(() => {});
      }
    }
    return got;
  }

  // ---- settling --------------------------------------------------------------------------------

  /**
   * Queues a settle operation for the next batch. Resolves `true` when the token still held the
   * lease, `false` when it was settled before or lost (another worker has the task now).
   */
  settle(token: string, settlement: Settlement, detail: string): Promise<boolean> {
    if (!this.held.delete(token)) return Promise.resolve(false);
    this.outstanding--;
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      this.ops.push({ settlement, token, detail, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate gathers every settle of this event-loop turn — tasks that finish together
        // are acknowledged together.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.ops.length > 0) {
      const ops = this.ops.splice(0, MAX_OPS_PER_CALL);
      const run = this.sendSettle(ops);
      this.flushes.add(run);
      void run.finally(() => this.flushes.delete(run));
    }
  }

  private async sendSettle(ops: PendingOp[]): Promise<void> {
    const call = this.settleCall(ops);
    try {
      call.done(await settleScript.run(this.ctx.client, call.keys, call.args));
    } catch (err) {
      call.failed(err);
    }
  }

  /**
   * Prepares the settle script call of `ops`, claiming the next tasks in it while the queue drains.
   * Exactly one of `done` and `failed` must follow.
   */
  private settleCall(ops: PendingOp[]): SettleCall {
    let claimN = 0;
    let start = 0;
    const args: (string | number)[] = [ops.length, this.queue];
    for (const op of ops) args.push(SCRIPT_SETTLEMENT[op.settlement], op.token, op.detail);
    if (!this.stopped && this.fetching === undefined && this.mode === 'drain') {
      claimN = Math.min(this.capacity - this.outstanding, this.ctx.options.batchSize);
    }
    let finishClaim: (() => void) | undefined;
    if (claimN > 0) {
      start = this.counter;
      this.counter += claimN;
      this.outstanding += claimN;
      this.fetching = new Promise<void>((resolve) => {
        finishClaim = resolve;
      }).finally(() => {
        this.fetching = undefined;
        this.pump();
      });
    }
    args.push(claimN, this.ctx.options.leaseMs, this.tokenPrefix, start, ...this.bellArgs);
    return {
      keys: this.settleKeys,
      args,
      done: (reply) => {
        const [flags, claimed] = reply as [unknown[], unknown];
        for (let i = 0; i < ops.length; i++) (ops[i] as PendingOp).resolve(Number(flags[i]) === 1);
        if (claimN > 0) {
          const got = this.accept(claimed, start, claimN);
          if (got < claimN) this.mode = 'block';
        }
        finishClaim?.();
        this.pump();
      },
      failed: (err) => {
        const error = redisConnectionError('Settling deliveries', this.ctx.where, err, this.ctx.client);
        for (const op of ops) op.reject(error);
        if (claimN > 0) this.outstanding -= claimN;
        finishClaim?.();
        this.pump();
      },
    };
  }

  /** The client this consumer settles on (see `StepCarrier`). */
  get client(): Redis | Cluster {
    return this.ctx.client;
  }

  /**
   * Hands the acknowledgements of `tokens` to a Redis backend, which runs them in the script call that
   * stores their outcomes (see `StepCarrier`): the same settle script, claim included, one round trip
   * fewer per batch. Tokens no longer held are left out.
   */
  carry(tokens: readonly string[]): CarriedStep | undefined {
    if (this.closed) return undefined;
    const ops: PendingOp[] = [];
    let settled!: () => void;
    const tracked = new Promise<void>((resolve) => {
      settled = resolve;
    });
    for (const token of tokens) {
      if (!this.held.delete(token)) continue;
      this.outstanding--;
      // Nobody awaits a carried acknowledgement: the backend reports a failed call to its writer.
      ops.push({ settlement: 'ack', token, detail: '', resolve: settled, reject: settled });
    }
    if (ops.length === 0) return undefined;
    const call = this.settleCall(ops);
    // close() waits for carried acknowledgements as it does for its own settle calls.
    this.flushes.add(tracked);
    void tracked.finally(() => this.flushes.delete(tracked));
    return {
      lua: SETTLE,
      keys: call.keys,
      args: call.args,
      done: (reply) => call.done(reply),
      failed: (err) => call.failed(err),
    };
  }

  /** Extends one lease by `ms` from now; `false` when it is settled or lost. */
  async extend(token: string, ms: number): Promise<boolean> {
    if (!this.held.has(token) || this.closed) return false;
    try {
      return (
        Number(await extendScript.run(this.ctx.client, [this.keys.leases], [Math.ceil(ms), token])) === 1
      );
    } catch (err) {
      throw redisConnectionError('Extending a lease', this.ctx.where, err, this.ctx.client);
    }
  }

  // ---- leases ----------------------------------------------------------------------------------

  private async renew(): Promise<void> {
    await renewScript.run(
      this.ctx.client,
      [this.keys.leases, this.keys.consumers],
      [this.ctx.options.leaseMs, this.id, ...this.held.keys()],
    );
    if (this.stopped && this.held.size === 0) this.stopRenewing();
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private scheduleReap(delayMs: number): void {
    if (this.stopped) return;
    if (this.reapTimer) clearTimeout(this.reapTimer);
    this.reapTimer = setTimeout(() => {
      this.reapTimer = undefined;
      this.reap().then(
        (next) => this.scheduleReap(next),
        (err) => {
          this.ctx.reportError(`returning expired leases of "${this.queue}"`, err);
          this.reapFailures++;
          this.scheduleReap(retryPause(this.reapFailures));
        },
      );
    }, delayMs);
  }

  /** One sweep; resolves with the pause until the next one. */
  private async reap(): Promise<number> {
    const reply = (await reapScript.run(
      this.ctx.client,
      [
        this.keys.queue,
        this.keys.leases,
        this.keys.inflight,
        this.ctx.keys.attempts,
        this.keys.consumers,
        ...this.keys.levels,
      ],
      [REAP_LIMIT, this.keys.staging, ...this.bellArgs],
    )) as [number, string | number, number];
    this.reapFailures = 0;
    const [reaped, earliest, now] = reply;
    if (reaped > 0)
      this.ctx.logger.warn({ queue: this.queue, reaped }, 'returned expired leases to the queue');
    if (Number(reaped) >= REAP_LIMIT) return 0;
    const interval = this.ctx.options.reaperIntervalMs;
    if (Number(earliest) < 0) return interval;
    // Wake just after the earliest lease would expire: a dead worker's task comes back promptly.
    return Math.min(interval, Math.max(5, Math.ceil(Number(earliest) - Number(now)) + 5));
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /** Stops claiming; held deliveries stay valid (and renewed) until settled. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    this.unlistenBell?.();
    if (this.reapTimer) clearTimeout(this.reapTimer);
    this.reapTimer = undefined;
    this.wakeUp?.();
    await this.interruptBlock();
    // While Redis is down nothing is waited for: a claim in flight is released when it returns, and
    // the reaper of another consumer returns our staging list once our heartbeat lapses.
    const grace = this.ctx.client.status === 'ready' ? STOP_GRACE_MS : 0;
    await withTimeout(this.fetching ?? Promise.resolve(), grace);
    const leaving = unstageScript
      .run(this.ctx.client, [this.keys.queue, this.keys.consumers, this.staging], [this.id])
      .catch((err: unknown) => this.ctx.reportError(`leaving "${this.queue}"`, err));
    await withTimeout(leaving, grace);
    if (this.blocking) dropRedisConnection(this.blocking);
    this.blocking = undefined;
    if (this.held.size === 0) this.stopRenewing();
    this.onStopped(this);
  }

  private async interruptBlock(): Promise<void> {
    const wait = this.blockWait;
    const conn = this.blocking;
    if (!conn) return;
    if (!wait) {
      // Not waiting (yet): the connection may still be setting up; nothing on it is worth keeping.
      dropRedisConnection(conn);
      return;
    }
    let unblocked = false;
    if (this.blockingId !== undefined && conn.status === 'ready' && this.ctx.client.status === 'ready') {
      try {
        const client = this.ctx.client as Redis;
        unblocked =
          Number(await withTimeout(client.client('UNBLOCK', this.blockingId), UNBLOCK_GRACE_MS)) === 1;
      } catch {
        unblocked = false;
      }
    }
    if (
      unblocked &&
      (await withTimeout(
        wait.then(() => true),
        UNBLOCK_GRACE_MS,
      )) === true
    )
      return;
    // No permission for CLIENT UNBLOCK, or no answer: drop the connection. A task BLMOVE staged just
    // before goes back to the queue with the staging list.
    dropRedisConnection(conn);
    await withTimeout(wait, UNBLOCK_GRACE_MS);
  }

  /** Stops, sends what is left to settle, and releases timers and connections. Idempotent. */
  async close(): Promise<void> {
    await this.stop();
    if (this.flushScheduled) this.flush();
    // Bounded: with Redis down, unsent acknowledgements fail with the connection instead.
    const grace = this.ctx.client.status === 'ready' ? STOP_GRACE_MS : 0;
    await withTimeout(Promise.all([...this.flushes]), grace);
    this.closed = true;
    this.stopRenewing();
  }
}
