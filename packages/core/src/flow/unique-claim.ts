import type { Signature } from '../signature.js';

const UNIQUE = Symbol.for('machinery.unique');

/** What makes one send unique: its key (per task name) and how long the first send claims it. */
export interface UniqueClaim {
  /** The key, unique per task name. */
  readonly key: string;
  /** How long, in ms, the first send claims the key. */
  readonly forMs: number;
}

/**
 * Marks `signature` as unique under `claim.key` for `claim.forMs` (what a definition's `unique` option
 * does for each signature it makes). The mark lives on this object only: it is not sent over the wire,
 * and copies (retries, callbacks) are not unique. Returns `signature`.
 *
 * @example
 * ```ts
 * await server.send(withUnique(report.signature(day), { key: day, forMs: 3_600_000 }))
 * ```
 */
export function withUnique<S extends Signature>(signature: S, claim: UniqueClaim): S {
  Object.defineProperty(signature, UNIQUE, {
    value: { key: claim.key, forMs: claim.forMs },
    enumerable: false,
    configurable: true,
  });
  return signature;
}

/** The unique claim `signature` was marked with, if any (brokers read it: SQS FIFO deduplication). */
export function uniqueClaimOf(signature: Signature): UniqueClaim | undefined {
  return (signature as { [UNIQUE]?: UniqueClaim })[UNIQUE];
}
