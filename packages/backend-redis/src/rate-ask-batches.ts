import type { RateLimitRule } from '@machinery/core';

/** Most asks answered by one script call (each adds a key and three arguments). */
const MAX_BATCH = 200;

/** One task's ask, waiting for its batch's answer. */
export interface RateAsk {
  uuid: string;
  rule: RateLimitRule;
  withdrawMs: number | undefined;
  resolve(waitMs: number): void;
  reject(error: unknown): void;
}

/** Sends one batch of asks of one limit key (and one rule); resolves one wait per ask, in order. */
export type SendAsks = (key: string, asks: readonly RateAsk[]) => Promise<readonly number[]>;

/**
 * Gathers the rate-limit asks of one tick per limit key and rule, and sends each group as one script
 * call: a worker draining limited tasks asks for dozens at once, and one call answering them all costs
 * Redis and the client far less than one call each. The asks of a group are answered in the order
 * made, as if sent one after the other; the limit's keys share a hash tag, so a group stays in one
 * Redis Cluster slot.
 */
export class RateAskBatches {
  private readonly pending = new Map<string, { key: string; asks: RateAsk[] }>();

  constructor(private readonly send: SendAsks) {}

  /** Queues an ask for the next batch of `key`; resolves the ms to wait (0: it may start now). */
  ask(key: string, uuid: string, rule: RateLimitRule, withdrawMs: number | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      // One group per key and rule: asks under another rule (a redeployed limit) are not mixed in.
      const group = `${key}\0${rule.max}\0${rule.perMs}`;
      let batch = this.pending.get(group);
      if (batch === undefined) {
        batch = { key, asks: [] };
        this.pending.set(group, batch);
        queueMicrotask(() => this.flush(group));
      }
      batch.asks.push({ uuid, rule, withdrawMs, resolve, reject });
    });
  }

  private flush(group: string): void {
    const batch = this.pending.get(group);
    this.pending.delete(group);
    if (batch === undefined) return;
    for (let i = 0; i < batch.asks.length; i += MAX_BATCH) {
      const asks = batch.asks.slice(i, i + MAX_BATCH);
      this.send(batch.key, asks).then(
        (waits) => {
          for (let j = 0; j < asks.length; j++) asks[j]?.resolve(waits[j] as number);
        },
        (err: unknown) => {
          for (const a of asks) a.reject(err);
        },
      );
    }
  }
}
