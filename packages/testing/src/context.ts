/**
 * What a suite passes to an adapter factory. Every call within one test gets the same `namespace`, so
 * two instances created in one test talk to the same queues and keys (two "connections").
 */
export interface AdapterContext {
  /** Unique per test: use it as key prefix / queue-name prefix so tests never see each other's data. */
  readonly namespace: string;
  /**
   * How long an unacknowledged delivery may be held before the broker hands it to another consumer
   * (lease, visibility timeout). Suites pass a short value so redelivery tests finish quickly.
   */
  readonly redeliveryTimeoutMs: number;
  /** Backend: seconds results are kept (suites pass a short value only in the expiry test). */
  readonly resultsExpireIn?: number;
}

/** Builds a fresh adapter for a test. */
export type AdapterFactory<T> = (ctx: AdapterContext) => T | Promise<T>;
