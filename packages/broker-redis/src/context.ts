import { backoffDelay, type Logger } from '@machinery/core';
import type { Cluster, Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { ResolvedBrokerOptions } from './options.js';

/** What a broker's consumers and delayed-task mover share: the connection, key names and settings. */
export interface BrokerContext {
  readonly client: Redis | Cluster;
  readonly keys: Keys;
  readonly options: ResolvedBrokerOptions;
  readonly logger: Logger;
  /** Where the client points, for error messages (no credentials). */
  readonly where: string;
  /** Reports a background failure; `what` names the loop. */
  reportError(what: string, err: unknown): void;
}

/** Unix nanoseconds of `ms` (plus the sub-millisecond part), as a decimal string: Go's ZSET score. */
export function unixNanos(ms: number, subMillisecondNanos = 0): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(subMillisecondNanos)).toString();
}

/**
 * The pause of a background loop (claim, reaper, delayed mover) before its `failures`-th retry in a
 * row: core's capped, jittered back-off, from 100 ms to 2 s.
 */
export function retryPause(failures: number): number {
  return backoffDelay(failures, 100, 2000);
}

/** `p`, or `undefined` once `ms` passed without it settling. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
