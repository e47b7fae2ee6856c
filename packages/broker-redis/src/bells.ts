import { redactText } from '@machinery/core';
import { closeRedisClient } from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import { duplicateForBlocking } from './connection.js';
import type { BrokerContext } from './context.js';

/**
 * The doorbells of priority lists. An idle consumer blocks on its queue list (Go's key, where
 * priority-0 tasks and Go producers' tasks arrive); a task pushed onto one of the queue's priority
 * lists rings the queue's channel instead, and this subscriber, one per broker, tells the queue's
 * consumers to stop waiting and claim. A ring lost while the subscriber reconnects only delays a
 * task until the consumer's blocking wait ends (`blockTimeoutMs`); it never loses one.
 */
export class Bells {
  private conn: Redis | Cluster | undefined;
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(private readonly ctx: BrokerContext) {}

  /** Calls `onRing` whenever `channel` rings, from now on; resolves once subscribed. Returns the unsubscribe. */
  async listen(channel: string, onRing: () => void): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(onRing);
    let subscribing = this.subscribed.get(channel);
    if (!subscribing) {
      subscribing = this.connection().subscribe(channel);
      this.subscribed.set(channel, subscribing);
      // A failed subscription is tried again by the next consumer of the channel.
      subscribing.catch(() => this.subscribed.delete(channel));
    }
    const listeners = set;
    try {
      await subscribing;
    } catch (err) {
      listeners.delete(onRing);
      throw err;
    }
    return () => {
      listeners.delete(onRing);
    };
  }

  private connection(): Redis | Cluster {
    if (this.conn) return this.conn;
    const conn = duplicateForBlocking(this.ctx.client);
    conn.on('error', (err: Error) => {
      this.ctx.logger.debug({ err: redactText(err.message) }, 'priority bell connection error');
    });
    conn.on('message', (channel: string) => {
      for (const ring of this.listeners.get(channel) ?? []) ring();
    });
    this.conn = conn;
    return conn;
  }

  /** Closes the subscriber connection. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.listeners.clear();
    this.subscribed.clear();
    if (conn) await closeRedisClient(conn, 500);
  }
}
