import { createHash } from 'node:crypto';
import {
  type ControlPlane,
  childLogger,
  type Logger,
  MachineryError,
  type PauseStore,
  type ProgressStore,
  type Revocation,
  type RevocationStore,
  resolveLogger,
  type TaskEvent,
  type TaskEventStream,
  type TaskProgress,
  type WorkerInfo,
  type WorkerRegistry,
} from '@machinery/core';
import type memjs from 'memjs';
import { openMemcache } from './memcache-client.js';
import { expiryFor, MemcacheStore } from './memcache-store.js';
import type { MemcacheControlPlaneOptions } from './options.js';
import { PolledLog } from './polled-log.js';

const DEFAULT_REVOCATION_TTL_MS = 3_600_000;
/** memcached refuses longer keys. */
const MAX_KEY_BYTES = 250;
/** Keeps room in a key for the longest kind and a hashed id. */
const MAX_PREFIX_BYTES = 150;
/** One log entry's data at most: half of memcached's default item size. */
const MAX_ENTRY_BYTES = 512 * 1024;
/** Revocation keys written at once. */
const WRITE_CONCURRENCY = 256;

/** An announcement on the signals log. */
type Signal =
  | { readonly kind: 'revoke'; readonly revocations: readonly Revocation[] }
  | { readonly kind: 'pause'; readonly queue: string; readonly paused: boolean };

/** A value stored with the exact time it lapses (memcached's expiry counts whole seconds). */
type Expiring<T> = T & { readonly until: number };

/**
 * The control plane on memcached (memjs), shared by every process pointing at the same servers and
 * prefix. memcached has no pub/sub and cannot list keys, so announcements and task events are logs
 * that listeners poll (see the README for the cost). Keys, all under `<prefix>machinery_control:`:
 * - `revoked:<uuid>` — one revocation, JSON, expiring with its TTL; looked up with one multi-get;
 * - `paused` — the JSON array of paused queues, changed with `gets`/`cas`; never expires;
 * - `workers` — the JSON array of registered worker ids, changed with `gets`/`cas`, and
 *   `worker:<id>` — each worker's info, expiring with its heartbeat TTL; `list()` drops the expired;
 * - `signals:seq` / `signals:<n>` — the log of revocation and pause announcements;
 * - `events:seq` / `events:<n>` — the log of task events, one entry per published batch;
 * - `progress:<uuid>` — the task's last progress, JSON, expiring with its TTL.
 * An id that would make a key longer than memcached's 250 bytes is replaced by its SHA-256.
 *
 * @example
 * ```ts
 * const control = new MemcacheControlPlane({ servers: '127.0.0.1:11211' })
 * const server = new Server({ broker, backend, control })
 * await server.revoke(uuid)
 * ```
 */
export class MemcacheControlPlane implements ControlPlane {
  /** The memjs client in use (the one given, or the one this control plane created). */
  readonly client: memjs.Client;
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  private readonly store: MemcacheStore;
  private readonly ownsClient: boolean;
  private readonly base: string;
  private readonly logger: Logger;
  private readonly signals: PolledLog<Signal>;
  private readonly eventLog: PolledLog<readonly TaskEvent[]>;
  private skipped = 0;
  private closed = false;

  constructor(options: MemcacheControlPlaneOptions = {}) {
    const pollIntervalMs = positive('pollIntervalMs', options.pollIntervalMs ?? 200);
    const logTtlMs = positive('logTtlMs', options.logTtlMs ?? 60_000);
    const maxCatchUp = options.maxCatchUp ?? 1000;
    if (!Number.isSafeInteger(maxCatchUp) || maxCatchUp < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `maxCatchUp must be a whole number of entries, at least 1; got ${maxCatchUp}.`,
      );
    }
    this.base = `${options.prefix ?? ''}machinery_control:`;
    if (Buffer.byteLength(this.base) > MAX_PREFIX_BYTES) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `The prefix is too long for memcached keys (${Buffer.byteLength(this.base)} bytes with "machinery_control:"; at most ${MAX_PREFIX_BYTES}). Choose a shorter prefix.`,
      );
    }
    this.logger = childLogger(resolveLogger(options.logger), { component: 'memcache-control-plane' });
    const connection = openMemcache(options, this.logger);
    this.client = connection.client;
    this.ownsClient = connection.ownsClient;
    this.store = new MemcacheStore(connection.client, connection.where);
    const logOptions = {
      pollIntervalMs,
      ttlMs: logTtlMs,
      maxCatchUp,
      logger: this.logger,
      onSkip: (count: number, reason: string) => {
        this.skipped += count;
        this.logger.warn({ count, reason }, 'a control log follower skipped entries');
      },
    };
    this.signals = new PolledLog<Signal>(this.store, `${this.base}signals:`, logOptions);
    this.eventLog = new PolledLog<readonly TaskEvent[]>(this.store, `${this.base}events:`, logOptions);

    const pausedKey = `${this.base}paused`;
    const workersKey = `${this.base}workers`;

    this.revocations = {
      revoke: (uuids, opts = {}) =>
        this.command(async () => {
          const ttlMs = positive('ttlMs', opts.ttlMs ?? DEFAULT_REVOCATION_TTL_MS);
          if (uuids.length === 0) return;
          const now = Date.now();
          const revocations: Revocation[] = uuids.map((uuid) => ({
            uuid,
            reason: opts.reason ?? 'revoked',
            revokedAt: now,
          }));
          const expires = expiryFor(ttlMs);
          for (let i = 0; i < revocations.length; i += WRITE_CONCURRENCY) {
            await Promise.all(
              revocations.slice(i, i + WRITE_CONCURRENCY).map((r) => {
                const stored: Expiring<Revocation> = { ...r, until: now + ttlMs };
                return this.store.set(this.key('revoked:', r.uuid), JSON.stringify(stored), expires);
              }),
            );
          }
          await this.signals.append(
            chunkBySize(revocations).map((chunk) => ({ kind: 'revoke', revocations: chunk })),
          );
        }),
      revoked: (uuids) =>
        this.command(async () => {
          if (uuids.length === 0) return [];
          const keys = uuids.map((uuid) => this.key('revoked:', uuid));
          const values = await this.store.getMulti(keys);
          const now = Date.now();
          return keys.map((key) => {
            const stored = this.parse<Expiring<Revocation>>(key, values.get(key));
            if (stored === undefined || !(stored.until > now)) return undefined;
            return { uuid: stored.uuid, reason: stored.reason, revokedAt: stored.revokedAt };
          });
        }),
      onRevoke: (listener) =>
        this.command(() =>
          this.signals.follow((signal) => {
            if (signal.kind === 'revoke') listener(signal.revocations);
          }),
        ),
    };

    const changePaused = (queue: string, paused: boolean) =>
      this.command(async () => {
        if (typeof queue !== 'string' || queue === '') {
          throw new MachineryError(
            'ERR_INVALID_ARGUMENT',
            `A queue name must be a non-empty string; got ${JSON.stringify(queue)}.`,
          );
        }
        await this.store.update(pausedKey, (current) => {
          const queues = this.parseList(pausedKey, current);
          if (queues.includes(queue) === paused) return undefined;
          return JSON.stringify(paused ? [...queues, queue].sort() : queues.filter((q) => q !== queue));
        });
        await this.signals.append([{ kind: 'pause', queue, paused }]);
      });
    const readPaused = async () => this.parseList(pausedKey, await this.store.get(pausedKey));

    this.pauses = {
      pause: (queue) => changePaused(queue, true),
      resume: (queue) => changePaused(queue, false),
      isPaused: (queue) => this.command(async () => (await readPaused()).includes(queue)),
      paused: () => this.command(async () => [...(await readPaused())].sort()),
      onChange: (listener) =>
        this.command(() =>
          this.signals.follow((signal) => {
            if (signal.kind === 'pause') listener(signal.queue, signal.paused);
          }),
        ),
    };

    this.workers = {
      heartbeat: (info, ttlMs) =>
        this.command(async () => {
          positive('ttlMs', ttlMs);
          const stored: { info: WorkerInfo; until: number } = { info, until: Date.now() + ttlMs };
          await this.store.set(this.key('worker:', info.id), JSON.stringify(stored), expiryFor(ttlMs));
          // Usually one `get` that finds the id listed already.
          const ids = this.parseList(workersKey, await this.store.get(workersKey));
          if (ids.includes(info.id)) return;
          // A new worker: also drop the ids of workers that died unlisted, so the index stays small
          // even when nobody calls list().
          const { gone } = await this.readWorkers(ids);
          await this.store.update(workersKey, (current) => {
            const listed = this.parseList(workersKey, current);
            const kept = listed.filter((id) => !gone.includes(id));
            if (kept.includes(info.id) && kept.length === listed.length) return undefined;
            return JSON.stringify(kept.includes(info.id) ? kept : [...kept, info.id]);
          });
        }),
      remove: (id) =>
        this.command(async () => {
          await this.store.delete(this.key('worker:', id));
          await this.dropWorkers(workersKey, [id]);
        }),
      list: () =>
        this.command(async () => {
          const ids = this.parseList(workersKey, await this.store.get(workersKey));
          const { live, gone } = await this.readWorkers(ids);
          // A killed worker never removes itself: the first reader after its deadline does.
          if (gone.length > 0) {
            await this.dropWorkers(workersKey, gone).catch((err: unknown) =>
              this.logger.warn(
                { err },
                'could not drop expired workers from the index; the next list retries',
              ),
            );
          }
          return live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        }),
    };

    this.events = {
      publish: (events) =>
        this.command(async () => {
          if (events.length === 0) return;
          await this.eventLog.append(chunkBySize(events));
        }),
      subscribe: (listener) =>
        this.command(() =>
          this.eventLog.follow((batch) => {
            for (const event of batch) listener(event);
          }),
        ),
    };

    this.progress = {
      set: (taskUUID, data, ttlMs) =>
        this.command(async () => {
          positive('ttlMs', ttlMs);
          const now = Date.now();
          const stored: Expiring<TaskProgress> = { data, at: now, until: now + ttlMs };
          await this.store.set(this.key('progress:', taskUUID), JSON.stringify(stored), expiryFor(ttlMs));
        }),
      get: (taskUUID) =>
        this.command(async () => {
          const key = this.key('progress:', taskUUID);
          const stored = this.parse<Expiring<TaskProgress>>(key, await this.store.get(key));
          if (stored === undefined || !(stored.until > Date.now())) return undefined;
          return { data: stored.data, at: stored.at };
        }),
    };
  }

  /**
   * Log entries this instance's listeners skipped: they fell more than `maxCatchUp` entries behind, or
   * entries never became readable (expired before a slow poll, evicted, or their writer died between
   * numbering and storing them). Each entry is one announcement or one batch of task events.
   */
  get skippedEntries(): number {
    return this.skipped;
  }

  /** `<base><kind><id>`, or the id's SHA-256 in its place when the key would be too long. */
  private key(kind: string, id: string): string {
    const key = `${this.base}${kind}${id}`;
    if (Buffer.byteLength(key) <= MAX_KEY_BYTES) return key;
    return `${this.base}${kind}#${createHash('sha256').update(id).digest('hex')}`;
  }

  private assertOpen(): void {
    if (this.closed)
      throw new MachineryError('ERR_CLOSED', 'The Memcache control plane is closed; create a new one.');
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return run();
  }

  /** A stored JSON value, or `undefined` (with a warning) when something else wrote the key. */
  private parse<T>(key: string, raw: string | undefined): T | undefined {
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      this.logger.warn({ key }, 'ignored a control value that is not JSON');
      return undefined;
    }
  }

  private parseList(key: string, raw: string | undefined): string[] {
    const list = this.parse<unknown>(key, raw);
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      this.logger.warn({ key }, 'ignored a control value that is not a JSON array');
      return [];
    }
    return list.filter((v): v is string => typeof v === 'string');
  }

  /** The infos of `ids` whose heartbeat has not expired, and the ids of the others. */
  private async readWorkers(ids: readonly string[]): Promise<{ live: WorkerInfo[]; gone: string[] }> {
    const live: WorkerInfo[] = [];
    const gone: string[] = [];
    if (ids.length === 0) return { live, gone };
    const keys = ids.map((id) => this.key('worker:', id));
    const values = await this.store.getMulti(keys);
    const now = Date.now();
    ids.forEach((id, i) => {
      const key = keys[i] as string;
      const stored = this.parse<{ info: WorkerInfo; until: number }>(key, values.get(key));
      if (stored !== undefined && stored.until > now) live.push(stored.info);
      else gone.push(id);
    });
    return { live, gone };
  }

  private dropWorkers(workersKey: string, gone: readonly string[]): Promise<void> {
    return this.store.update(workersKey, (current) => {
      const ids = this.parseList(workersKey, current);
      const left = ids.filter((id) => !gone.includes(id));
      return left.length === ids.length ? undefined : JSON.stringify(left);
    });
  }

  /** Stops polling and closes the connections this control plane opened (a given client stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A poll under way ends before its connection does, or memjs would retry it on a new one.
    await Promise.all([this.signals.close(), this.eventLog.close()]);
    if (this.ownsClient) this.client.close();
  }
}

/** `value` when it is a positive, finite number of ms. */
function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${name} must be a positive number of ms; got ${value}.`,
    );
  }
  return value;
}

/** `items` in consecutive chunks of at most {@link MAX_ENTRY_BYTES} of JSON each (one item alone may exceed it). */
function chunkBySize<T>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = Buffer.byteLength(JSON.stringify(item) ?? 'null') + 1;
    if (chunk.length > 0 && size + bytes > MAX_ENTRY_BYTES) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(item);
    size += bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
