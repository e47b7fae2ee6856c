import { MachineryError } from '@machinery/core';

/** Reconnect back-off: exponential from `initialDelayMs`, capped at `maxDelayMs`, with jitter. */
export interface ReconnectOptions {
  /** First pause after a lost or refused connection, in ms (default 100). */
  initialDelayMs?: number;
  /** Longest pause between attempts, in ms (default 10 000). */
  maxDelayMs?: number;
}

/**
 * A positive, finite number of ms, or `fallback` when `value` is undefined.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` naming `owner` and `option` otherwise.
 */
export function positiveMs(
  owner: string,
  option: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${owner} option ${option} must be a positive number of ms, got ${value}.`,
    );
  }
  return value;
}

/**
 * The back-off after defaults (100 ms doubling up to 10 s); `maxDelayMs` is never below `initialDelayMs`.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` naming `owner` for a value that is not a positive number.
 */
export function resolveReconnect(
  owner: string,
  options: ReconnectOptions | undefined,
): { initialDelayMs: number; maxDelayMs: number } {
  const initialDelayMs = positiveMs(owner, 'reconnect.initialDelayMs', options?.initialDelayMs, 100);
  const maxDelayMs = positiveMs(owner, 'reconnect.maxDelayMs', options?.maxDelayMs, 10_000);
  return { initialDelayMs, maxDelayMs: Math.max(initialDelayMs, maxDelayMs) };
}
