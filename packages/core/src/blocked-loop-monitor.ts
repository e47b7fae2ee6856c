/**
 * Notices that the event loop was blocked: an unref'd timer ticks every tenth of `thresholdMs`, and a
 * tick that comes more than `thresholdMs` late means synchronous code held the loop that long. A block
 * is seen when it ends (nothing runs during it), so this tells, it cannot prevent. Blocks a little
 * shorter than `thresholdMs + thresholdMs / 10` may go unnoticed.
 */
export class BlockedLoopMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private readonly periodMs: number;

  constructor(
    /** How long a block must last to be reported. */
    readonly thresholdMs: number,
    private readonly onBlocked: (blockedMs: number) => void,
    /** Called on every tick after `onBlocked`: the caller forgets what ran before it. */
    private readonly onTick: () => void = () => {},
  ) {
    this.periodMs = Math.max(10, Math.floor(thresholdMs / 10));
  }

  /** Starts watching; no-op when started. */
  start(): void {
    if (this.timer !== undefined) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const lateMs = now - this.last - this.periodMs;
      this.last = now;
      if (lateMs > this.thresholdMs) this.onBlocked(Math.round(lateMs));
      this.onTick();
    }, this.periodMs);
    this.timer.unref();
  }

  /** Stops watching. Idempotent. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
