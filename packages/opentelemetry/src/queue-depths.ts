import type { Broker } from '@machinery/core';

/** How many tasks wait, by queue, in each part a broker can list. A part it cannot list is absent. */
export interface QueueDepthSnapshot {
  pending?: ReadonlyMap<string, number>;
  delayed?: ReadonlyMap<string, number>;
  deadLetters?: ReadonlyMap<string, number>;
}

/** Options of {@link QueueDepths}. */
export interface QueueDepthsOptions {
  /** Queues whose waiting tasks are counted. */
  queues: readonly string[];
  /** A snapshot younger than this is served again instead of reading the broker. */
  intervalMs: number;
  /** Each list is read up to this many entries: a deeper queue reads as this many. */
  limit: number;
  /** A read failed; the part is left out of the snapshot. */
  onError: (error: unknown, part: keyof QueueDepthSnapshot) => void;
}

/**
 * Reads queue depths through a broker's inspection operations (`pendingTasks`, `delayedTasks`,
 * `deadLetters`), at most once per interval however often metrics are collected, and one read at a
 * time. A queue seen once is reported as 0 once it is empty, rather than vanishing from the gauge.
 */
export class QueueDepths {
  private last: { at: number; snapshot: QueueDepthSnapshot } | undefined;
  private reading: Promise<QueueDepthSnapshot> | undefined;
  private readonly seen = { delayed: new Set<string>(), deadLetters: new Set<string>() };

  constructor(
    private readonly broker: Broker,
    private readonly options: QueueDepthsOptions,
  ) {}

  /** The current snapshot, read from the broker if the last one is older than the interval. */
  read(): Promise<QueueDepthSnapshot> {
    const last = this.last;
    if (last !== undefined && Date.now() - last.at < this.options.intervalMs)
      return Promise.resolve(last.snapshot);
    this.reading ??= this.fetch().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async fetch(): Promise<QueueDepthSnapshot> {
    const { broker, options } = this;
    const capabilities = broker.capabilities;
    const [pending, delayed, deadLetters] = await Promise.all([
      capabilities.pendingInspection ? this.part('pending', () => this.pending()) : undefined,
      capabilities.delayedInspection
        ? this.part('delayed', async () =>
            this.countBy(
              (await broker.delayedTasks(options.limit)).map((s) => s.routingKey || broker.defaultQueue),
              this.seen.delayed,
            ),
          )
        : undefined,
      capabilities.deadLetterInspection
        ? this.part('deadLetters', async () =>
            this.countBy(
              (await broker.deadLetters(options.limit)).map((d) => d.queue),
              this.seen.deadLetters,
            ),
          )
        : undefined,
    ]);
    const snapshot: QueueDepthSnapshot = {};
    if (pending !== undefined) snapshot.pending = pending;
    if (delayed !== undefined) snapshot.delayed = delayed;
    if (deadLetters !== undefined) snapshot.deadLetters = deadLetters;
    this.last = { at: Date.now(), snapshot };
    return snapshot;
  }

  private async pending(): Promise<Map<string, number>> {
    const counts = await Promise.all(
      this.options.queues.map(
        async (queue) => [queue, (await this.broker.pendingTasks(queue, this.options.limit)).length] as const,
      ),
    );
    return new Map(counts);
  }

  /** Counts entries by queue; a queue seen in an earlier read and absent now counts 0. */
  private countBy(queues: readonly string[], seen: Set<string>): Map<string, number> {
    const counts = new Map<string, number>();
    for (const queue of seen) counts.set(queue, 0);
    for (const queue of this.options.queues) counts.set(queue, 0);
    for (const queue of queues) {
      seen.add(queue);
      counts.set(queue, (counts.get(queue) ?? 0) + 1);
    }
    return counts;
  }

  private async part<T>(name: keyof QueueDepthSnapshot, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      this.options.onError(err, name);
      return undefined;
    }
  }
}
