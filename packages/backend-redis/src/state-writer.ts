import type { Cluster, Redis } from 'ioredis';
import { LuaScript } from './lua-script.js';
import { SET_STATES } from './scripts.js';

const setStatesScript = new LuaScript(SET_STATES);
/** Most states written by one script call. */
const MAX_BATCH = 500;

/** `f`: a fresh write (PENDING); `m`: keep TaskName and CreatedAt of the previous value. */
export type WriteMode = 'f' | 'm';

interface Entry {
  readonly key: string;
  readonly args: readonly string[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Gathers the state writes of one event-loop turn into one script call: a worker running 100 tasks
 * stores their RECEIVED (then STARTED, then SUCCESS) states together, in one round trip each, and
 * each caller's promise still settles with its own write.
 */
export class StateWriter {
  private queue: Entry[] = [];
  private scheduled = false;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly ttlSeconds: number,
  ) {}

  /** Queues one write; resolves once it is stored. `parts` are head, name, middle, createdAt, tail. */
  write(key: string, mode: WriteMode, parts: readonly string[], channel: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ key, args: [mode, ...parts, channel], resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
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
        if (Number(reply[i]) === 1) e.resolve();
        else e.reject(new Error(String(reply[i])));
      });
    } catch (err) {
      for (const e of batch) e.reject(err);
    }
  }

  /** Sends what is queued and waits for every write in flight. */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await Promise.all([...this.sending]);
  }
}
