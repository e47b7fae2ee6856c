import { randomBytes } from 'node:crypto';

/** Options for {@link eventually}. */
export interface EventuallyOptions {
  /** Give up after this many ms (default 5000). */
  timeoutMs?: number;
  /** Pause between attempts (default 10 ms). */
  intervalMs?: number;
}

/**
 * Re-runs `fn` until it stops throwing (or resolves), then returns its value; rethrows the last
 * error after `timeoutMs`. Use it instead of sleeps to wait for an effect.
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/**
 * Waits `ms` to observe that something does *not* happen (a delivery that must not arrive). Never use
 * it to wait for something to happen — use {@link eventually}.
 */
export function observeFor(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fresh namespace for one test: queue names, key prefixes. Short, lowercase, unique. */
export function uniqueNamespace(prefix = 'mt'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** Tracks closable resources created during a test and closes them in reverse order. */
export class Closer {
  private readonly items: { close(): Promise<void> | void }[] = [];

  /** Registers `item` for closing; returns it. */
  add<T extends { close(): Promise<void> | void }>(item: T): T {
    this.items.push(item);
    return item;
  }

  /** Closes everything registered, newest first; errors are collected and the first one thrown. */
  async closeAll(): Promise<void> {
    let first: unknown;
    while (this.items.length > 0) {
      const item = this.items.pop() as { close(): Promise<void> | void };
      try {
        await item.close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One value per test namespace, made on first use: the instances one test creates (one per simulated
 * process) reach the same in-memory store, as processes reach the same server. `delete` it in the
 * suite's `cleanup`.
 */
export class PerNamespace<T> {
  private readonly values = new Map<string, T>();

  constructor(private readonly make: () => T) {}

  /** The namespace's value, made now if it has none. */
  get(namespace: string): T {
    let value = this.values.get(namespace);
    if (value === undefined) {
      value = this.make();
      this.values.set(namespace, value);
    }
    return value;
  }

  /** Forgets every namespace's value. */
  clear(): void {
    this.values.clear();
  }

  /** Forgets the namespace's value and returns it, if it had one. */
  delete(namespace: string): T | undefined {
    const value = this.values.get(namespace);
    this.values.delete(namespace);
    return value;
  }
}
