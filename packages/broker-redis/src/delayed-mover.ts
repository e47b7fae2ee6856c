import { LuaScript } from '@machinery/redis-connection';
import { type BrokerContext, retryPause, unixNanos, withTimeout } from './context.js';
import { MOVE_DUE } from './scripts.js';

const moveScript = new LuaScript(MOVE_DUE);
/** Most delayed tasks moved by one script call; a full batch is followed at once by another. */
const MOVE_LIMIT = 1000;

/**
 * Moves due delayed tasks from the shared `delayed_tasks` set to their queues. One per broker that
 * consumes. Each run moves every due task (in atomic batches of up to 1000) and sleeps until the
 * earliest remaining ETA — but never longer than `delayedPollMs`, so tasks that other processes
 * delay are noticed too. Several movers (and Go workers) can run at once: each script is atomic.
 */
export class DelayedMover {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private active = false;
  /** Runs that failed in a row. */
  private failures = 0;

  constructor(private readonly ctx: BrokerContext) {}

  /** Starts moving (idempotent). */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule(0);
  }

  /** Stops and waits for a run in progress. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    await withTimeout(this.running ?? Promise.resolve(), this.ctx.client.status === 'ready' ? 2000 : 0);
  }

  /** A task due at `etaMs` was just delayed here: wake up for it if that is sooner than planned. */
  poke(etaMs: number): void {
    if (this.active && etaMs < this.dueAt) this.schedule(etaMs - Date.now());
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.ceil(delayMs));
    this.dueAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Number.POSITIVE_INFINITY;
      if (this.running !== undefined) return;
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
    }, wait);
  }

  private async run(): Promise<void> {
    const { keys, options } = this.ctx;
    let next: number;
    try {
      const [moved, earliest] = (await moveScript.run(
        this.ctx.client,
        [keys.delayed, keys.dead],
        [unixNanos(Date.now()), keys.prefix, options.defaultQueue, MOVE_LIMIT, options.maxPriority],
      )) as [number, string | number];
      this.failures = 0;
      if (Number(moved) >= MOVE_LIMIT) next = 0;
      else if (Number(earliest) < 0) next = options.delayedPollMs;
      else next = Math.min(options.delayedPollMs, Number(earliest) / 1e6 - Date.now());
    } catch (err) {
      this.ctx.reportError('moving due delayed tasks', err);
      this.failures++;
      next = retryPause(this.failures);
    }
    // A poke during the run may have planned an earlier wake-up; keep the earlier one.
    if (Date.now() + next < this.dueAt) this.schedule(next);
  }
}
