/** The next retry: what to store in `retryTimeout` and how long to actually wait. */
export interface RetryDelay {
  /** Whole seconds written to the signature's `retryTimeout` (Go's field; the next step grows from it). */
  timeout: number;
  /** Milliseconds until the retry runs (the ETA); may include jitter. */
  delayMs: number;
}

/**
 * Decides how long to wait before a retry, from the signature's previous `retryTimeout` (seconds).
 * Deriving the next delay from the stored one keeps retries stateless, as in Go Machinery.
 */
export interface RetryStrategy {
  next(previousTimeout: number): RetryDelay;
}

/** Smallest Fibonacci number strictly greater than `n` (Go: 0→1, 1→2, 3→5, 4→5, 5→8, 8→13). */
export function fibonacciNext(n: number): number {
  if (n < 1) return 1;
  let a = 1;
  let b = 2;
  while (b <= n) [a, b] = [b, a + b];
  return b;
}

/** Go Machinery's back-off: 1, 2, 3, 5, 8, 13… seconds, each the next Fibonacci number above the last. */
export const fibonacciRetry: RetryStrategy = {
  next(previous) {
    const timeout = fibonacciNext(previous);
    return { timeout, delayMs: timeout * 1000 };
  },
};

/** Options for {@link exponentialRetry}. */
export interface ExponentialRetryOptions {
  /** First delay in whole seconds (default 1). */
  baseSeconds?: number;
  /** Growth per retry (default 2). */
  factor?: number;
  /** Cap in seconds (default 3600). */
  maxSeconds?: number;
  /** Fraction of each delay that is random, 0–1 (default 0.5, "equal jitter"). */
  jitter?: number;
  /** Source of randomness in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/**
 * Exponential back-off with jitter: base, base×factor, base×factor²… capped; the actual wait is
 * randomised by `jitter` so that many failing tasks do not retry in lockstep.
 */
export function exponentialRetry(options: ExponentialRetryOptions = {}): RetryStrategy {
  const base = Math.max(1, Math.ceil(options.baseSeconds ?? 1));
  const factor = options.factor ?? 2;
  const max = options.maxSeconds ?? 3600;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const random = options.random ?? Math.random;
  return {
    next(previous) {
      const timeout = previous < 1 ? base : Math.min(max, Math.ceil(previous * factor));
      return { timeout, delayMs: timeout * 1000 * (1 - jitter + jitter * random()) };
    },
  };
}

/**
 * Pause before reconnect attempt `attempt` (1, 2, …): exponential from `initialMs`, capped at `maxMs`,
 * drawn from the upper half of that ("equal jitter") so that many clients cut off together do not come
 * back in lockstep. Adapters use it for capped, jittered reconnects.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
