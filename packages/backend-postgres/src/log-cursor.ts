/** A row of an append log: its number and what it holds. */
export interface LogRow<T> {
  readonly position: number;
  readonly item: T;
}

/** Options for {@link LogCursor}. */
export interface LogCursorOptions<T> {
  /** The number of the last row already seen: reading starts after it. */
  readonly after: number;
  /** Rows read per query. */
  readonly pageSize: number;
  /** Reads at most `limit` rows numbered after `after`, in order. */
  read(after: number, limit: number): Promise<LogRow<T>[]>;
  /** Receives each page read, in order. */
  deliver(items: T[]): void;
  /** A read failed; it is tried again after `retryMs`. */
  onError(err: unknown): void;
  /** Wait before reading again after a failure (default 1000 ms). */
  readonly retryMs?: number;
}

/**
 * Follows an append log whose rows become visible in number order: told that rows up to N exist, it
 * reads those after the last it saw and delivers them, one read at a time. A notice that arrives while
 * it reads makes it read again; a failed read is tried again, so nothing is skipped while the rows
 * are still there.
 */
export class LogCursor<T> {
  private position: number;
  private wanted = false;
  /** Set and cleared synchronously, so that a notice can never fall between two reads. */
  private reading = false;
  private done: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LogCursorOptions<T>) {
    this.position = options.after;
  }

  /** Rows up to `upTo` were appended (`undefined`: perhaps some, read to find out). */
  notify(upTo?: number): void {
    if (this.stopped || (upTo !== undefined && upTo <= this.position)) return;
    this.wanted = true;
    if (this.reading) return;
    this.reading = true;
    this.done = this.run();
  }

  /** Stops reading; resolves once a read under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.done;
  }

  private async run(): Promise<void> {
    const { pageSize } = this.options;
    try {
      while (this.wanted && !this.stopped) {
        this.wanted = false;
        let page: LogRow<T>[];
        do {
          page = await this.options.read(this.position, pageSize);
          if (this.stopped) return;
          const last = page[page.length - 1];
          if (last === undefined) break;
          this.position = last.position;
          this.options.deliver(page.map((row) => row.item));
        } while (page.length >= pageSize);
      }
    } catch (err) {
      if (this.stopped) return;
      this.options.onError(err);
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.notify();
      }, this.options.retryMs ?? 1000);
      this.retryTimer.unref();
    } finally {
      this.reading = false;
    }
  }
}
