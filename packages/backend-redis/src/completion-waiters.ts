import {
  decodeTaskState,
  isCompleted,
  type Logger,
  MachineryError,
  redactText,
  type TaskState,
} from '@machinery/core';
import type { Cluster, Redis } from 'ioredis';
import { dropConnection, duplicateForSubscribe } from './connection.js';

interface Waiter {
  resolve(state: TaskState): void;
  reject(err: unknown): void;
}

interface Channel {
  readonly uuid: string;
  readonly waiters: Set<Waiter>;
  /** Settles once the subscription is confirmed. */
  subscribed: Promise<void>;
}

/**
 * Pushed task completion over pub/sub. One subscriber connection per backend (opened on first use);
 * one channel per awaited task, subscribed while someone waits and unsubscribed after. Each wait
 * subscribes first and then reads the key, so a completion written in between is never missed; after a
 * reconnect every awaited key is read again, since messages published during the gap are lost.
 */
export class CompletionWaiters {
  private subscriber: Redis | Cluster | undefined;
  private readonly channels = new Map<string, Channel>();
  private closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channelPrefix: string,
    private readonly read: (uuids: readonly string[]) => Promise<(string | null)[]>,
    private readonly logger: Logger,
  ) {}

  /** Resolves with the task's state once it is `SUCCESS` or `FAILURE`; rejects when `signal` aborts. */
  wait(uuid: string, signal: AbortSignal): Promise<TaskState> {
    return new Promise<TaskState>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (this.closed) return reject(closedError());
      const channel = this.channelPrefix + uuid;
      const onAbort = () => {
        this.remove(channel, waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (state) => {
          signal.removeEventListener('abort', onAbort);
          resolve(state);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const entry = this.add(channel, uuid, waiter);
      entry.subscribed
        .then(() => this.read([uuid]))
        .then(([value]) => {
          const state = completedState(value ?? null);
          if (state && entry.waiters.has(waiter)) {
            this.remove(channel, waiter);
            waiter.resolve(state);
          }
        })
        .catch((err: unknown) => {
          if (!entry.waiters.has(waiter)) return;
          this.remove(channel, waiter);
          waiter.reject(err);
        });
    });
  }

  private connection(): Redis | Cluster {
    if (!this.subscriber) {
      const sub = duplicateForSubscribe(this.client);
      sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
      sub.on('error', (err: Error) => {
        this.logger.debug({ err: redactText(err.message) }, 'result subscriber connection error');
      });
      // Messages published while the connection was down are lost: read every awaited key again.
      sub.on('ready', () => {
        this.recheck().catch((err: unknown) =>
          this.logger.error({ err: redactText(String(err)) }, 'rechecking awaited results failed'),
        );
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  private add(channel: string, uuid: string, waiter: Waiter): Channel {
    let entry = this.channels.get(channel);
    if (!entry) {
      const created: Channel = { uuid, waiters: new Set(), subscribed: Promise.resolve() };
      created.subscribed = this.connection()
        .subscribe(channel)
        .then(() => undefined);
      entry = created;
      this.channels.set(channel, entry);
    }
    entry.waiters.add(waiter);
    return entry;
  }

  private remove(channel: string, waiter: Waiter): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    entry.waiters.delete(waiter);
    if (entry.waiters.size > 0) return;
    this.channels.delete(channel);
    this.subscriber?.unsubscribe(channel).catch(() => {
      // Gone with the connection: nothing stays subscribed.
    });
  }

  private onMessage(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    const state = completedState(message);
    if (!state) return;
    this.settle(channel, entry, state);
  }

  private settle(channel: string, entry: Channel, state: TaskState): void {
    const waiters = [...entry.waiters];
    entry.waiters.clear();
    this.channels.delete(channel);
    this.subscriber?.unsubscribe(channel).catch(() => {});
    for (const w of waiters) w.resolve(state);
  }

  private async recheck(): Promise<void> {
    const entries = [...this.channels.entries()];
    if (entries.length === 0) return;
    const values = await this.read(entries.map(([, e]) => e.uuid));
    entries.forEach(([channel, entry], i) => {
      const state = completedState(values[i] ?? null);
      if (state && this.channels.get(channel) === entry) this.settle(channel, entry, state);
    });
  }

  /** Rejects every wait with `ERR_CLOSED` and closes the subscriber connection. */
  close(): void {
    this.closed = true;
    const waiters = [...this.channels.values()].flatMap((e) => [...e.waiters]);
    this.channels.clear();
    for (const w of waiters) w.reject(closedError());
    if (this.subscriber) dropConnection(this.subscriber);
    this.subscriber = undefined;
  }
}

function completedState(value: string | null): TaskState | undefined {
  if (value === null) return undefined;
  const state = decodeTaskState(value);
  return isCompleted(state.state) ? state : undefined;
}

function closedError(): MachineryError {
  return new MachineryError('ERR_CLOSED', 'The Redis backend is closed; results can no longer be awaited.');
}
