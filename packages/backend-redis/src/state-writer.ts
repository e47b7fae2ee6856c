import type { TaskStateParts } from '@machinery/core';
import { LuaScript } from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import { SET_STATES } from './scripts.js';

const setStatesScript = new LuaScript(SET_STATES);
/** Most states written by one script call. */
const MAX_BATCH = 500;

/**
 * How a write treats the state stored before it (core's `keepsEarlierState` decides): `keepEarlier`
 * keeps its `CreatedAt`, and its `TaskName` when the new one is empty; `replace` stores the new state
 * as it is (PENDING, as Go writes it).
 */
export type WriteMode = 'keepEarlier' | 'replace';

/** The script's one-letter spelling of each mode (see `SET_STATES`). */
const SCRIPT_MODE: Readonly<Record<WriteMode, string>> = { keepEarlier: 'k', replace: 'r' };

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Entry {
  readonly key: string;
  mode: WriteMode;
  /** The script arguments of this write: mode, the five parts, channel. */
  args: readonly string[];
  readonly waiters: Waiter[];
}

/**
 * Gathers the state writes of one event-loop turn into one script call: a worker running 100 tasks
 * stores their STARTED (then SUCCESS) states together, in one round trip each, and each caller's
 * promise still settles with its own write. Two merging writes of one task queued in the same turn
 * (a fast task's STARTED and SUCCESS) become one: the script would overwrite the first with the second
 * in the same atomic call anyway, so nobody could have read it.
 */
export class StateWriter {
  private queue: Entry[] = [];
  private readonly queued = new Map<string, Entry>();
  private scheduled = false;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Queues one write of `parts` (core's `encodeTaskStateParts`) to `key`, published on `channel`
   * unless it is `''`; resolves once it is stored.
   */
  write(key: string, mode: WriteMode, parts: TaskStateParts, channel: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const args = [
        SCRIPT_MODE[mode],
        parts.head,
        parts.taskName,
        parts.middle,
        parts.createdAt,
        parts.tail,
        channel,
      ];
      const earlier = this.queued.get(key);
      // Only a keeping write replaces a keeping write: a `replace` (PENDING) resets CreatedAt, so
      // neither it nor a write after it may be folded into the other.
      if (earlier && mode === 'keepEarlier' && earlier.mode === 'keepEarlier') {
        earlier.args = args;
        earlier.waiters.push({ resolve, reject });
        return;
      }
      const entry: Entry = { key, mode, args, waiters: [{ resolve, reject }] };
      this.queue.push(entry);
      this.queued.set(key, entry);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    this.queued.clear();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const run = this.send(batch);
      this.sending.add(run);
      void run.finally(() => this.sending.delete(run));
    }
  }

  private async send(batch: Entry[]): Promise<void> {
    const args: (string | number)[] = [this.ttlSeconds];
    for (const e of batch) for (const a of e.args) args.push(a);
    try {
      const reply = (await setStatesScript.run(
        this.client,
        batch.map((e) => e.key),
        args,
      )) as unknown[];
      batch.forEach((e, i) => {
        const failure = Number(reply[i]) === 1 ? undefined : new Error(String(reply[i]));
        for (const w of e.waiters) {
          if (failure) w.reject(failure);
          else w.resolve();
        }
      });
    } catch (err) {
      for (const e of batch) for (const w of e.waiters) w.reject(err);
    }
  }

  /** Sends what is queued and waits for every write in flight. */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await Promise.all([...this.sending]);
  }
}
