import { createHash } from 'node:crypto';
import {
  childLogger,
  type FlowControl,
  MachineryError,
  resolveLogger,
  type UniqueStore,
} from '@machinery/core';
import type memjs from 'memjs';
import { memcacheError, openMemcache } from './memcache-client.js';
import { expiryFor } from './memcache-store.js';
import { getWithCas, setIfUnchanged } from './memjs-commands.js';
import type { MemcacheFlowControlOptions } from './options.js';

/** Attempts of one claim while other producers race for the same key. */
const MAX_CONFLICTS = 50;

/** A stored claim: `<deadline ms> <uuid>`; memcached's expiry ticks in whole seconds, the deadline is exact. */
function encodeClaim(until: number, uuid: string): string {
  return `${until} ${uuid}`;
}

function decodeClaim(value: string): { until: number; uuid: string } {
  const space = value.indexOf(' ');
  return { until: Number(value.slice(0, space)), uuid: value.slice(space + 1) };
}

/**
 * Unique tasks on memcached (memjs), shared by every producer pointing at the same servers and prefix.
 * A claim is taken with `add` (atomic: only the first writer stores it) and holds the first UUID and
 * its exact deadline; a claim whose deadline passed while memcached still keeps it (its expiry ticks in
 * whole seconds) is replaced with `cas`. Keys: `<prefix>machinery_flow:unique:<sha256 of task and key>`.
 * memcached has no atomic scripts for the other stores: use `RedisFlowControl` for rate and
 * concurrency limits.
 *
 * @example
 * ```ts
 * const server = new Server({ broker, backend, flow: new MemcacheFlowControl({ servers: '127.0.0.1:11211' }) })
 * ```
 */
export class MemcacheFlowControl implements FlowControl {
  /** The memjs client in use (the one given, or the one this created). */
  readonly client: memjs.Client;
  readonly unique: UniqueStore;
  private readonly ownsClient: boolean;
  private readonly where: string;
  private readonly base: string;
  private closed = false;

  constructor(options: MemcacheFlowControlOptions = {}) {
    this.base = `${options.prefix ?? ''}machinery_flow:unique:`;
    const logger = childLogger(resolveLogger(options.logger), { component: 'memcache-flow-control' });
    const connection = openMemcache(options, logger);
    this.client = connection.client;
    this.ownsClient = connection.ownsClient;
    this.where = connection.where;
    this.unique = {
      claim: (key, uuid, ttlMs) => this.claim(key, uuid, ttlMs),
      release: (key, uuid) => this.release(key, uuid),
    };
  }

  private keyOf(key: string): string {
    // Keys are free text; memcached takes at most 250 bytes without spaces or control characters.
    return this.base + createHash('sha256').update(key).digest('base64url');
  }

  private async claim(key: string, uuid: string, ttlMs: number): Promise<string> {
    this.assertOpen();
    const stored = this.keyOf(key);
    try {
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        const until = Date.now() + ttlMs;
        const value = encodeClaim(until, uuid);
        if (await this.client.add(stored, value, { expires: expiryFor(ttlMs) })) return uuid;
        const current = await getWithCas(this.client, stored);
        // Gone between the two calls: try to add again.
        if (current === undefined) continue;
        const claim = decodeClaim(current.value);
        if (claim.uuid === uuid || claim.until > Date.now()) return claim.uuid;
        // Lapsed by its exact deadline, still kept by memcached: take it over unless someone else did.
        if (await setIfUnchanged(this.client, stored, value, current.cas, expiryFor(ttlMs))) return uuid;
      }
    } catch (err) {
      throw memcacheError('claim', stored, this.where, err, 'use a shorter key');
    }
    throw new MachineryError(
      'ERR_CONNECTION',
      `Claiming unique key "${key}" on memcached gave up: other producers changed it ${MAX_CONFLICTS} times in a row. Try again.`,
    );
  }

  private async release(key: string, uuid: string): Promise<void> {
    this.assertOpen();
    const stored = this.keyOf(key);
    try {
      const current = await getWithCas(this.client, stored);
      if (current === undefined || decodeClaim(current.value).uuid !== uuid) return;
      // Overwritten as lapsed with `cas` rather than deleted, so a claim taken meanwhile is kept.
      await setIfUnchanged(this.client, stored, encodeClaim(0, ''), current.cas, 1);
    } catch (err) {
      throw memcacheError('release', stored, this.where, err, 'use a shorter key');
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The memcache flow control is closed.');
  }

  /** Closes the connection it opened (a given client stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.close();
  }
}
