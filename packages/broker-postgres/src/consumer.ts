import { randomBytes } from 'node:crypto';
import {
  type Consumer,
  type Delivery,
  Dictionary,
  decodeSignature,
  errorText,
  type NackOptions,
  type Signature,
} from '@machinery/core';
import { postgresError } from '@machinery/postgres-connection';
import type { BrokerContext } from './context.js';

/** Shortest sleep of an idle consumer: rows due but locked by another claimer are leased within it. */
const MIN_WAIT_MS = 10;
/** How long `stop()` waits for a claim in flight. */
const STOP_GRACE_MS = 2000;
/** Longest pause after failed claims. */
const MAX_BACKOFF_MS = 5000;

interface Held {
  readonly id: string;
  /** Set once a renewal found the token gone: another worker has the task, or it was settled. */
  lost: boolean;
}

interface PendingAck {
  readonly id: string;
  readonly token: string;
  resolve(ok: boolean): void;
  reject(err: unknown): void;
}

/** One task handed to a consumer; every settle is fenced by its lease token. */
class PostgresDelivery implements Delivery {
  readonly redelivered: boolean;

  constructor(
    readonly signature: Signature,
    readonly queue: string,
    readonly attempt: number,
    readonly token: string,
    private readonly consumer: PostgresConsumer,
  ) {
    this.redelivered = attempt > 1;
  }

  ack(): Promise<boolean> {
    return this.consumer.ack(this.token);
  }

  nack(options: NackOptions = {}): Promise<boolean> {
    if (options.requeue === false) {
      return this.consumer.settle(this.token, 'dead', options.reason ?? 'rejected');
    }
    return this.consumer.settle(this.token, 'requeue', Math.max(0, Math.ceil(options.delayMs ?? 0)));
  }

  extendLease(ms: number): Promise<boolean> {
    return this.consumer.extend(this.token, ms);
  }
}

/**
 * Consumes one queue for one `consume()` call.
 *
 * Flow: claim up to `min(free slots, batchSize)` rows in one statement (`FOR UPDATE SKIP LOCKED`,
 * each under a fresh lease token); while claims come back full, claim again; once the queue runs dry,
 * sleep until a `NOTIFY` for this queue, the earliest known ETA or lease deadline, or the poll
 * interval. Acknowledgements of one event-loop turn go in one `DELETE`; held leases are renewed in
 * one `UPDATE` per tick for as long as they are held — also after `stop()`.
 */
export class PostgresConsumer implements Consumer {
  /** Random id, recorded with each lease (column `consumer`) for operators. */
  readonly id = randomBytes(6).toString('base64url');
  /** Held leases by token. Not a `Map`: one comes and goes per task (see core's `Dictionary`). */
  private readonly held = new Dictionary<Held>();
  private outstanding = 0;
  private fetching: Promise<number> | undefined;
  /** A wake-up arrived while a claim ran: claim again after it even if it came back short. */
  private again = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private acks: PendingAck[] = [];
  private ackScheduled = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  private closed = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly ctx: BrokerContext,
    readonly queue: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    private readonly capacity: number,
  ) {}

  /** Starts renewing and claiming. */
  start(): void {
    const every = Math.max(30, Math.floor(this.ctx.options.leaseMs / 3));
    this.renewTimer = setInterval(() => {
      this.track(this.renew()).catch((err) =>
        this.ctx.reportError(`renewing leases on "${this.queue}"`, err),
      );
    }, every);
    this.pump();
  }

  /** A publish (or the restored `LISTEN` connection) says there may be work. */
  wake(): void {
    if (this.stopped) return;
    if (this.fetching !== undefined) {
      this.again = true;
      return;
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.backoffMs = 0;
    this.pump();
  }

  // ---- claiming --------------------------------------------------------------------------------

  private pump(): void {
    if (this.stopped || this.fetching !== undefined || this.wakeTimer) return;
    const free = this.capacity - this.outstanding;
    if (free <= 0) return;
    this.again = false;
    const run = this.claim(Math.min(free, this.ctx.options.batchSize)).finally(() => {
      this.fetching = undefined;
    });
    this.fetching = run;
    void run.then((next) => this.after(next));
  }

  /** What to do after a claim: claim again at once, or sleep `next` ms (until woken). */
  private after(next: number): void {
    if (this.stopped) return;
    if (next === 0 || this.again) {
      this.pump();
      return;
    }
    if (this.capacity - this.outstanding <= 0) return; // a settle pumps again
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.pump();
    }, next);
  }

  /** One claim; resolves with how long to sleep before the next (0: claim again now). */
  private async claim(n: number): Promise<number> {
    const { sql, options } = this.ctx;
    this.outstanding += n;
    let rows: { id: string; body: string; attempts: number; lease_token: string }[];
    try {
      rows = (await this.ctx.pool.query(sql.claim, [this.queue, n, options.leaseMs, this.id])).rows;
    } catch (err) {
      this.outstanding -= n;
      if (this.stopped) return 0;
      this.ctx.reportError(`claiming tasks from "${this.queue}"`, err);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(50, this.backoffMs * 2));
      return this.backoffMs / 2 + Math.random() * (this.backoffMs / 2);
    }
    this.backoffMs = 0;
    this.outstanding -= n - rows.length;
    for (const row of rows) this.accept(row.id, row.body, row.attempts, row.lease_token);
    if (rows.length === n) return 0;
    return this.untilDue();
  }

  /** How long until the earliest ETA or lease deadline of this queue, capped by the poll interval. */
  private async untilDue(): Promise<number> {
    const poll = this.ctx.options.pollIntervalMs;
    try {
      const { rows } = await this.ctx.pool.query(this.ctx.sql.nextDue, [this.queue]);
      const wait = rows[0]?.wait_ms as number | null | undefined;
      // At least a few ms: a due row another claimer holds locked must not make this a busy loop.
      return wait === null || wait === undefined ? poll : Math.min(poll, Math.max(MIN_WAIT_MS, wait + 1));
    } catch {
      return poll;
    }
  }

  private accept(id: string, body: string, attempts: number, token: string): void {
    this.held.set(token, { id, lost: false });
    if (this.stopped) {
      // Claimed after stop(): never handed over, so it goes straight back, uncounted.
      void this.settle(token, 'release', 0).catch(() => {});
      return;
    }
    let signature: Signature;
    try {
      signature = decodeSignature(body, { maxBytes: this.ctx.options.maxMessageBytes });
    } catch (err) {
      // The reason may quote the message: kept with the dead letter, logged at debug only.
      this.ctx.logger.warn(
        { queue: this.queue },
        'dead-lettering an undecodable message (see deadLetters())',
      );
      this.ctx.logger.debug({ queue: this.queue, reason: errorText(err) }, 'undecodable message');
      this.settle(token, 'dead', errorText(err)).catch((e) => this.ctx.reportError('dead-lettering', e));
      return;
    }
    const delivery = new PostgresDelivery(signature, this.queue, attempts, token, this);
    try {
      this.onDelivery(delivery);
    } catch (err) {
      // A handler that throws has not taken the task: give it back rather than renew it forever.
      this.ctx.reportError('the delivery handler', err);
      void delivery.nack({ requeue: true }).catch(() => {});
    }
  }

  // ---- settling --------------------------------------------------------------------------------

  /** Takes the token out of the held set; false when it was settled before. */
  private take(token: string): Held | undefined {
    const held = this.held.get(token);
    if (!held) return undefined;
    this.held.delete(token);
    this.outstanding--;
    if (this.stopped && this.held.size === 0) this.stopRenewing();
    // A freed slot: claim more (setImmediate lets the settle itself go first).
    setImmediate(() => this.pump());
    return held;
  }

  /** Acknowledges: the row is deleted if the token still holds the lease. Batched per event-loop turn. */
  ack(token: string): Promise<boolean> {
    const held = this.take(token);
    if (!held || this.closed) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      this.acks.push({ id: held.id, token, resolve, reject });
      if (!this.ackScheduled) {
        this.ackScheduled = true;
        setImmediate(() => this.flushAcks());
      }
    });
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    const batch = this.acks;
    this.acks = [];
    if (batch.length === 0) return;
    const run = this.ctx.pool
      .query(this.ctx.sql.ack, [batch.map((a) => a.id), batch.map((a) => a.token)])
      .then(
        ({ rows }) => {
          const done = new Set(rows.map((r: { lease_token: string }) => r.lease_token));
          for (const a of batch) a.resolve(done.has(a.token));
        },
        (err: unknown) => {
          const error = postgresError('Acknowledging deliveries', this.ctx.where, err);
          for (const a of batch) a.reject(error);
        },
      );
    void this.track(run);
  }

  /** Requeues (optionally delayed), dead-letters or releases one delivery, fenced by its token. */
  async settle(token: string, kind: 'requeue' | 'dead' | 'release', arg: number | string): Promise<boolean> {
    const held = this.take(token);
    if (!held || this.closed) return false;
    const { sql } = this.ctx;
    const [text, values] =
      kind === 'dead'
        ? [sql.deadLetter, [held.id, token, arg]]
        : kind === 'release'
          ? [sql.release, [held.id, token]]
          : [sql.requeue, [held.id, token, arg]];
    try {
      const result = await this.track(this.ctx.pool.query(text, values));
      return (result.rowCount ?? 0) > 0;
    } catch (err) {
      throw postgresError(
        kind === 'dead' ? 'Dead-lettering a delivery' : 'Requeueing a delivery',
        this.ctx.where,
        err,
      );
    }
  }

  /** Extends one lease to `ms` from now (never shortens it); false when it is settled or lost. */
  async extend(token: string, ms: number): Promise<boolean> {
    const held = this.held.get(token);
    if (!held || held.lost || this.closed) return false;
    try {
      const result = await this.ctx.pool.query(this.ctx.sql.extend, [held.id, token, Math.ceil(ms)]);
      return (result.rowCount ?? 0) > 0;
    } catch (err) {
      throw postgresError('Extending a lease', this.ctx.where, err);
    }
  }

  // ---- leases ----------------------------------------------------------------------------------

  private async renew(): Promise<void> {
    const live = this.held.keyValues().filter(([, h]) => !h.lost);
    if (live.length === 0) return;
    const { rows } = await this.ctx.pool.query(this.ctx.sql.renew, [
      live.map(([, h]) => h.id),
      live.map(([token]) => token),
      this.ctx.options.leaseMs,
    ]);
    const renewed = new Set(rows.map((r: { lease_token: string }) => r.lease_token));
    for (const [token, h] of live) {
      // Settled meanwhile, or taken over after this process stalled past its deadline.
      if (!renewed.has(token) && this.held.get(token) === h) {
        h.lost = true;
        this.ctx.logger.warn({ queue: this.queue }, 'a lease was lost: another worker may run the task');
      }
    }
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.then(
      () => this.inFlight.delete(p),
      () => this.inFlight.delete(p),
    );
    return p;
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /** Stops claiming. Resolves once no further delivery will be made; held leases stay renewed. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    // A claim in flight hands nothing over after this point (accept() releases what it brings), so
    // waiting for it only keeps the exit tidy: bounded, for a server that does not answer.
    if (this.fetching !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.fetching,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.held.size === 0) this.stopRenewing();
  }

  /**
   * Stops, sends the acknowledgements of this turn, waits for settles in flight, and stops renewing.
   * Deliveries still unsettled are not given back: their leases expire and they are redelivered.
   */
  async close(): Promise<void> {
    await this.stop();
    if (this.ackScheduled) this.flushAcks();
    await Promise.allSettled([...this.inFlight]);
    this.closed = true;
    this.stopRenewing();
  }
}
