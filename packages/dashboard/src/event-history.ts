import type { TaskEvent } from '@machinery/core';

/** Counts and latencies of one chart bar. */
export interface Bucket {
  /** Start of the bar, ms since the epoch. */
  readonly start: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** Sum and count of `durationMs` of finished tasks (time in the task function). */
  runMsSum: number;
  runCount: number;
  /** Sum and count of send → start waits, for tasks whose `sent` event this dashboard saw. */
  waitMsSum: number;
  waitCount: number;
}

/** What the charts draw: one bucket per bar, oldest first, the last one the current. */
export interface Series {
  readonly bucketMs: number;
  readonly buckets: readonly Bucket[];
}

// Sent times kept to measure send → start; the oldest are forgotten past this many.
const MAX_SENT = 50_000;

/**
 * The task events this dashboard has seen since it started (the stream has no history): the last
 * `size` events for timelines and the live list, and per-bucket counts for the charts. Memory is
 * bounded by `size`, the number of buckets and {@link MAX_SENT}.
 */
export class EventHistory {
  private readonly ring: TaskEvent[] = [];
  private next = 0;
  private readonly bucketsByStart = new Map<number, Bucket>();
  private readonly sentAt = new Map<string, number>();
  private readonly seenQueues = new Set<string>();

  constructor(
    private readonly size: number,
    private readonly bucketMs: number,
    private readonly bucketCount: number,
  ) {}

  /** Records one event. */
  add(event: TaskEvent): void {
    if (this.ring.length < this.size) this.ring.push(event);
    else this.ring[this.next] = event;
    this.next = (this.next + 1) % this.size;
    if (event.queue) this.seenQueues.add(event.queue);
    if (event.type === 'sent') {
      this.sentAt.set(event.taskUUID, event.at);
      if (this.sentAt.size > MAX_SENT) {
        const oldest = this.sentAt.keys().next().value;
        if (oldest !== undefined) this.sentAt.delete(oldest);
      }
    }
    const bucket = this.bucketAt(event.at);
    switch (event.type) {
      case 'started': {
        const sent = this.sentAt.get(event.taskUUID);
        if (sent !== undefined) {
          this.sentAt.delete(event.taskUUID);
          bucket.waitMsSum += Math.max(0, event.at - sent);
          bucket.waitCount++;
        }
        break;
      }
      case 'succeeded':
      case 'failed':
        if (event.type === 'succeeded') bucket.succeeded++;
        else bucket.failed++;
        if (event.durationMs !== undefined) {
          bucket.runMsSum += event.durationMs;
          bucket.runCount++;
        }
        break;
      case 'retried':
        bucket.retried++;
        break;
      default:
    }
  }

  /** The last `n` events, newest first. */
  recent(n: number): TaskEvent[] {
    const ordered = this.ordered();
    return ordered.slice(Math.max(0, ordered.length - n)).reverse();
  }

  /** The events of one task still in memory, oldest first. */
  forTask(uuid: string): TaskEvent[] {
    return this.ordered().filter((e) => e.taskUUID === uuid);
  }

  /** Queues named by the events seen. */
  queues(): string[] {
    return [...this.seenQueues];
  }

  /** The chart buckets ending with the one that holds `now`. */
  series(now = Date.now()): Series {
    const last = Math.floor(now / this.bucketMs) * this.bucketMs;
    const first = last - (this.bucketCount - 1) * this.bucketMs;
    for (const start of this.bucketsByStart.keys()) if (start < first) this.bucketsByStart.delete(start);
    const buckets: Bucket[] = [];
    for (let start = first; start <= last; start += this.bucketMs) {
      buckets.push(this.bucketsByStart.get(start) ?? emptyBucket(start));
    }
    return { bucketMs: this.bucketMs, buckets };
  }

  private ordered(): TaskEvent[] {
    return this.ring.length < this.size
      ? [...this.ring]
      : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  private bucketAt(at: number): Bucket {
    const start = Math.floor(at / this.bucketMs) * this.bucketMs;
    let bucket = this.bucketsByStart.get(start);
    if (bucket === undefined) {
      bucket = emptyBucket(start);
      this.bucketsByStart.set(start, bucket);
    }
    return bucket;
  }
}

function emptyBucket(start: number): Bucket {
  return { start, succeeded: 0, failed: 0, retried: 0, runMsSum: 0, runCount: 0, waitMsSum: 0, waitCount: 0 };
}
