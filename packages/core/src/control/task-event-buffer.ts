import type { TaskEvent, TaskEventStream } from './task-events.js';

/**
 * Batches task events per tick into one `publish` call, so that events cost one write per tick
 * rather than one per event, and never make a task wait: while the stream is slow, events wait here up
 * to `maxBuffered`; beyond that, and when a publish fails, they are dropped and counted in `dropped`.
 */
export class TaskEventBuffer {
  /** Events dropped since creation: the buffer was full, or publishing failed. */
  dropped = 0;
  private pending: TaskEvent[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly stream: TaskEventStream,
    private readonly maxBuffered: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Queues `event` for the next batch, or drops it when the buffer is full. */
  push(event: TaskEvent): void {
    if (this.pending.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.pending.push(event);
    if (this.scheduled || this.flushing !== undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing ??= this.flush();
    });
  }

  /** Resolves once every queued event was published (or dropped). */
  async drain(): Promise<void> {
    while (this.flushing !== undefined || this.pending.length > 0) {
      this.flushing ??= this.flush();
      await this.flushing;
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.stream.publish(batch);
        } catch (err) {
          this.dropped += batch.length;
          this.onError(err);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
