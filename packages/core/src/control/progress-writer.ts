import type { ProgressStore } from './progress.js';

interface Pending {
  data: unknown;
  hasData: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Stores each task's progress at most once per `intervalMs`, keeping the last value: the first report
 * is written at once, later ones within the interval replace each other and the last is written when
 * the interval ends. A chatty task costs at most one write per interval.
 */
export class ProgressWriter {
  private readonly tasks = new Map<string, Pending>();

  constructor(
    private readonly store: ProgressStore,
    private readonly intervalMs: number,
    private readonly ttlMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A task reported `data`. */
  report(taskUUID: string, data: unknown): void {
    const pending = this.tasks.get(taskUUID);
    if (pending !== undefined) {
      pending.data = data;
      pending.hasData = true;
      return;
    }
    void this.write(taskUUID, data);
    this.arm(taskUUID);
  }

  /** Writes what is still pending and stops the timers. */
  async close(): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [taskUUID, pending] of this.tasks) {
      clearTimeout(pending.timer);
      if (pending.hasData) writes.push(this.write(taskUUID, pending.data));
    }
    this.tasks.clear();
    await Promise.all(writes);
  }

  private arm(taskUUID: string): void {
    const timer = setTimeout(() => {
      const pending = this.tasks.get(taskUUID);
      if (pending === undefined) return;
      if (!pending.hasData) {
        this.tasks.delete(taskUUID);
        return;
      }
      pending.hasData = false;
      void this.write(taskUUID, pending.data);
      pending.timer = setTimeout(() => this.expire(taskUUID), this.intervalMs);
    }, this.intervalMs);
    this.tasks.set(taskUUID, { data: undefined, hasData: false, timer });
  }

  private expire(taskUUID: string): void {
    const pending = this.tasks.get(taskUUID);
    if (pending === undefined) return;
    this.tasks.delete(taskUUID);
    if (pending.hasData) this.report(taskUUID, pending.data);
  }

  private async write(taskUUID: string, data: unknown): Promise<void> {
    try {
      await this.store.set(taskUUID, data, this.ttlMs);
    } catch (err) {
      this.onError(err);
    }
  }
}
