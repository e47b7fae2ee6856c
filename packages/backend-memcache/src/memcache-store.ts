import { MachineryError } from '@machinery/core';
import type memjs from 'memjs';
import { memcacheError } from './memcache-client.js';
import { getMulti, getWithCas, incrementBy, setIfUnchanged } from './memjs-commands.js';

/** Keys per multi-get: bounds one reply, which memjs must receive within its request timeout. */
const MULTI_GET_CHUNK = 100;
/** Optimistic updates of one key give up after this many conflicts in a row. */
const MAX_CONFLICTS = 100;
/** memcached reads an expiry above 30 days as a Unix time. */
const MAX_RELATIVE_EXPIRY_S = 30 * 24 * 3600;

/**
 * memcached's expiry (seconds) for something kept `ttlMs`: its clock ticks in whole seconds, so one
 * second more keeps the value at least `ttlMs` (readers check the exact deadline stored with it).
 */
export function expiryFor(ttlMs: number): number {
  const seconds = Math.ceil(ttlMs / 1000) + 1;
  return seconds > MAX_RELATIVE_EXPIRY_S ? Math.ceil(Date.now() / 1000) + seconds : seconds;
}

/**
 * The memcached commands the control plane uses, on one memjs client, each rejecting with a
 * `MachineryError` (`ERR_CONNECTION`, or `ERR_PAYLOAD_TOO_LARGE` for a value over the item size).
 */
export class MemcacheStore {
  constructor(
    readonly client: memjs.Client,
    private readonly where: string,
  ) {}

  private async run<T>(op: string, key: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw memcacheError(op, key, this.where, err, 'store smaller values');
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.run('get', key, async () => (await this.client.get(key)).value?.toString('utf8'));
  }

  async set(key: string, value: string, expires: number): Promise<void> {
    await this.run('set', key, () => this.client.set(key, value, { expires }));
  }

  async delete(key: string): Promise<void> {
    await this.run('delete', key, () => this.client.delete(key));
  }

  /** The values found, by key (absent: missing or expired), in one round trip per 100 keys. */
  async getMulti(keys: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < keys.length; i += MULTI_GET_CHUNK) {
      const chunk = keys.slice(i, i + MULTI_GET_CHUNK);
      const values = await this.run('multi-get', chunk[0] as string, () => getMulti(this.client, chunk));
      for (const [key, value] of values) found.set(key, value);
    }
    return found;
  }

  /** Adds `amount` to the counter `key` (created at `initial` when missing); returns its new value. */
  async increment(key: string, amount: number, initial: number): Promise<number> {
    return this.run('incr', key, () => incrementBy(this.client, key, amount, initial));
  }

  /**
   * Read-modify-write of `key` with `gets`/`cas` (or `add` when it is missing), retried while other
   * writers come first. `change` gets the current value (`undefined`: missing) and returns the new one,
   * or `undefined` to leave it as it is; it may run several times.
   */
  async update(key: string, change: (current: string | undefined) => string | undefined): Promise<void> {
    for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
      const current = await this.run('gets', key, () => getWithCas(this.client, key));
      const next = change(current?.value);
      if (next === undefined) return;
      const stored = await this.run(current ? 'cas' : 'add', key, () =>
        current
          ? setIfUnchanged(this.client, key, next, current.cas, 0)
          : this.client.add(key, next, { expires: 0 }),
      );
      if (stored) return;
      // Another writer came first: back off a little, at random, so the racers spread out.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * (conflicts + 1))));
    }
    throw new MachineryError(
      'ERR_CONNECTION',
      `Memcache update of key "${key}" gave up: other processes changed it ${MAX_CONFLICTS} times in a row while this one tried. Try again.`,
    );
  }
}
