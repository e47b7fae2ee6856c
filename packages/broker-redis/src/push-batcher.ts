import { LuaScript } from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import { PUSH_RING } from './scripts.js';

const pushRingScript = new LuaScript(PUSH_RING);

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Pending {
  /** Channel to ring after the push (a priority list's), or `undefined`. */
  readonly bell: string | undefined;
  readonly bodies: string[];
  readonly waiters: Waiter[];
}

/**
 * Gathers the `RPUSH`es of one event-loop turn into one `RPUSH` per queue: a producer with 100 `send`s
 * in flight sees their PENDING states stored together (one reply), so their publishes arrive together
 * too and leave as one command in one socket write, not 100 — on loopback each write runs the
 * kernel's TCP path inside our process. Bodies keep their call order in the list, and each caller's
 * promise settles with the one command that carried its body.
 */
export class PushBatcher {
  private pending = new Map<string, Pending>();
  private scheduled = false;

  constructor(private readonly client: Redis | Cluster) {}

  /**
   * Appends `body` to the list `key` (and then, in the same script, rings `bell` when given); resolves
   * once Redis has it.
   */
  push(key: string, body: string, bell?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let batch = this.pending.get(key);
      if (!batch) {
        batch = { bell, bodies: [], waiters: [] };
        this.pending.set(key, batch);
      }
      batch.bodies.push(body);
      batch.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // process.nextTick runs after the current microtask queue has drained, so every publish that
        // the same reply (or the same synchronous loop) set off is in the batch, with no wait for I/O.
        process.nextTick(() => this.flush());
      }
    });
  }

  /** Sends what is gathered now (`close()` calls it so that no publish queues behind `QUIT`). */
  flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [key, { bell, bodies, waiters }] of batches) {
      const pushed =
        bell === undefined
          ? this.client.rpush(key, ...bodies)
          : pushRingScript.run(this.client, [key], [bell, ...bodies]);
      pushed.then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (err: unknown) => {
          for (const w of waiters) w.reject(err);
        },
      );
    }
  }
}
