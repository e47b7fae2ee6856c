import type { Logger } from '@machinery/core';
import type { Notification, Pool, PoolClient } from 'pg';
import { describeError } from './errors.js';

/** Longest pause between two attempts to re-establish `LISTEN`. */
const MAX_BACKOFF_MS = 5000;

/**
 * Holds one pooled connection in `LISTEN` on the table's channel and hands each notification's
 * payload (a queue name) to `onQueue`. A lost connection is replaced with capped back-off; once
 * listening again, `onResumed` runs so consumers look for what was published meanwhile. Consumers
 * poll as well, so a notification lost in between delays a task by at most the poll interval.
 */
export class Listener {
  private client: PoolClient | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    private readonly logger: Logger,
    private readonly onQueue: (queue: string) => void,
    private readonly onResumed: () => void,
  ) {}

  /** Starts listening (once); resolves when `LISTEN` is in place or the first attempt failed. */
  start(): Promise<void> {
    if (this.closed || this.client || this.retryTimer) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      // A checked-out client's errors arrive as events; without a listener they would crash the process.
      client.on('error', (err) => this.lost(client as PoolClient, err));
      client.on('notification', (n: Notification) => {
        if (n.channel === this.channel && n.payload !== undefined) this.onQueue(n.payload);
      });
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      if (client) this.lost(client, err);
      else this.retry(err);
      return;
    }
    if (this.closed) {
      client.release(true);
      return;
    }
    const resumed = this.backoffMs > 0;
    this.client = client;
    this.backoffMs = 0;
    if (resumed) {
      this.logger.info({}, 'PostgreSQL LISTEN connection restored');
      this.onResumed();
    }
  }

  private lost(client: PoolClient, err: unknown): void {
    if (this.client === client) this.client = undefined;
    try {
      client.release(err instanceof Error ? err : true);
    } catch {
      // Released already.
    }
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.closed || this.retryTimer) return;
    if (this.backoffMs === 0) {
      this.logger.warn(
        { err: describeError(err) },
        'PostgreSQL LISTEN connection lost; polling until it is back',
      );
    }
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.start();
      },
      this.backoffMs / 2 + Math.random() * (this.backoffMs / 2),
    );
  }

  /** Stops listening and returns the connection to the pool. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.query(`UNLISTEN "${this.channel}"`);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
    }
  }
}
