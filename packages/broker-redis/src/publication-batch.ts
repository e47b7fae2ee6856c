import { PreciseDate, type Signature } from '@machinery/core';
import { unixNanos } from './context.js';
import type { Keys } from './keys.js';

/**
 * Encoded tasks sorted into what one `PUBLISH_MANY` call takes: the list each waits in (its queue's,
 * or a priority list whose queue's channel is rung), or the delayed set when its ETA is ahead.
 * Bodies keep their order within each list.
 */
export class PublicationBatch {
  private readonly byList = new Map<string, string[]>();
  private readonly bells = new Set<string>();
  private readonly delayed: string[] = [];
  /** The earliest ETA put in the delayed set, or +∞. */
  earliest = Number.POSITIVE_INFINITY;

  constructor(
    private readonly keys: Keys,
    private readonly now = Date.now(),
  ) {}

  add(signature: Signature, queue: string, body: string): void {
    const eta = signature.eta;
    if (eta !== null && eta.getTime() > this.now) {
      this.delayed.push(etaScore(eta), body);
      this.earliest = Math.min(this.earliest, eta.getTime());
      return;
    }
    const key = this.keys.listOf(queue, signature.priority);
    if (key !== this.keys.queue(queue).queue) this.bells.add(this.keys.queue(queue).bell);
    let list = this.byList.get(key);
    if (list === undefined) {
      list = [];
      this.byList.set(key, list);
    }
    list.push(body);
  }

  /** `PUBLISH_MANY`'s keys and arguments for what was added. */
  script(): { keys: string[]; args: string[] } {
    const keys = [this.keys.delayed, ...this.byList.keys()];
    const args: string[] = [];
    for (const list of this.byList.values()) args.push(String(list.length));
    args.push(String(this.delayed.length / 2));
    for (const list of this.byList.values()) for (const body of list) args.push(body);
    for (const item of this.delayed) args.push(item);
    for (const bell of this.bells) args.push(bell);
    return { keys, args };
  }
}

/** The delayed set's score of an ETA: Unix nanoseconds, as Go Machinery writes them. */
export function etaScore(eta: Date): string {
  return unixNanos(eta.getTime(), eta instanceof PreciseDate ? eta.subMillisecondNanos : 0);
}
