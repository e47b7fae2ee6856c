import { randomUUID } from 'node:crypto';
import {
  type Backend,
  type BackendCapabilities,
  childLogger,
  decodeGroupMeta,
  decodeTaskState,
  encodeGroupMeta,
  encodeTaskState,
  type GroupMeta,
  isCompleted,
  isMachineryError,
  keepsEarlierState,
  type Logger,
  MachineryError,
  nextTaskState,
  resolveLogger,
  SequentialByKey,
  type Signature,
  type StateUpdate,
  StateWritingBackend,
  type TaskState,
  type TaskStatus,
} from '@machinery/core';
import type memjs from 'memjs';
import { memcacheError, openMemcache } from './memcache-client.js';
import type { MemcacheBackendOptions } from './options.js';

/** Suffix of the key whose atomic `add` decides which worker fires a group's chord callback. */
export const CHORD_GUARD_SUFFIX = '_chord_triggered';

// Member states are read concurrently (memjs pipelines them on one connection per server); this bounds
// how many requests one group read has outstanding at a time.
const READ_CONCURRENCY = 256;

/**
 * Result backend on memcached (memjs), with Go Machinery's layout: the TaskState JSON at key `<UUID>`,
 * the GroupMeta JSON at `<groupUUID>`, both with an absolute expiry of now + `resultsExpireIn`.
 * Unlike Go, the chord trigger is atomic — memcached `add` of `<groupUUID>_chord_triggered` succeeds
 * for exactly one worker — and `ChordTriggered` is still written for Go readers.
 *
 * @example
 * ```ts
 * const backend = new MemcacheBackend({ servers: '127.0.0.1:11211' })
 * const server = new Server({ broker, backend })
 * ```
 */
export class MemcacheBackend extends StateWritingBackend implements Backend {
  readonly capabilities: BackendCapabilities = {
    pushResults: false,
    durableReads: true,
    expiry: true,
    rememberChordWinner: true,
  };
  /** The memjs client in use (the one given, or the one this backend created). */
  readonly client: memjs.Client;
  private readonly prefix: string;
  private readonly expireIn: number;
  private readonly logger: Logger;
  private readonly ownsClient: boolean;
  private readonly where: string;
  private closed = false;
  /** One task's state writes, in call order. */
  private readonly writes = new SequentialByKey();

  constructor(options: MemcacheBackendOptions = {}) {
    super();
    const expireIn = options.resultsExpireIn ?? 3600;
    if (!Number.isFinite(expireIn) || expireIn <= 0) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `resultsExpireIn must be a positive number of seconds, got ${expireIn}.`,
      );
    }
    this.expireIn = expireIn;
    this.prefix = options.prefix ?? '';
    this.logger = childLogger(resolveLogger(options.logger), { component: 'memcache-backend' });
    const connection = openMemcache(options, this.logger);
    this.client = connection.client;
    this.where = connection.where;
    this.ownsClient = connection.ownsClient;
  }

  private key(id: string): string {
    return this.prefix + id;
  }

  /** Absolute Unix time, as Go writes it; rounded up so a short expiry never lapses early. */
  private expiry(): number {
    return Math.ceil(Date.now() / 1000 + this.expireIn);
  }

  private assertOpen(): void {
    if (this.closed)
      throw new MachineryError('ERR_CLOSED', 'The Memcache backend is closed; create a new one.');
  }

  private fail(op: string, key: string, err: unknown): MachineryError {
    return memcacheError(op, key, this.where, err, 'return smaller results');
  }

  private async get(key: string): Promise<string | undefined> {
    this.assertOpen();
    try {
      const { value } = await this.client.get(key);
      return value === null ? undefined : value.toString('utf8');
    } catch (err) {
      throw this.fail('get', key, err);
    }
  }

  private async set(key: string, json: string): Promise<void> {
    this.assertOpen();
    try {
      await this.client.set(key, json, { expires: this.expiry() });
    } catch (err) {
      throw this.fail('set', key, err);
    }
  }

  private async remove(key: string): Promise<void> {
    this.assertOpen();
    try {
      await this.client.delete(key);
    } catch (err) {
      throw this.fail('delete', key, err);
    }
  }

  private async readState(taskUUID: string): Promise<TaskState | undefined> {
    const json = await this.get(this.key(taskUUID));
    return json === undefined ? undefined : decodeTaskState(json);
  }

  /**
   * Writes the whole state, after any earlier write of the same task from this backend has finished:
   * the Worker may issue `RECEIVED` and `STARTED` without awaiting the first, and they must land in
   * call order. Except for `PENDING` (a fresh start, as in Go), it first reads the previous state to
   * keep `TaskName` and `CreatedAt` — a plain get then set: memjs has no `gets`/`cas`, and one task's
   * states are written by the one worker holding it. Go keeps neither.
   */
  /** One task's writes in call order (the Worker does not await STARTED before the outcome). */
  protected writeState(sig: Signature, state: TaskStatus, extra: StateUpdate): Promise<void> {
    return this.writes.run(sig.uuid, () => this.storeState(sig, state, extra));
  }

  private async storeState(sig: Signature, state: TaskStatus, extra: StateUpdate): Promise<void> {
    let previous: TaskState | undefined;
    if (keepsEarlierState(state)) {
      try {
        previous = await this.readState(sig.uuid);
      } catch (err) {
        if (!isMachineryError(err, 'ERR_DECODE')) throw err;
        this.logger.warn({ taskUUID: sig.uuid, err }, 'overwriting an undecodable task state');
      }
    }
    await this.set(this.key(sig.uuid), encodeTaskState(nextTaskState(sig, state, extra, previous)));
  }

  async initGroup(groupUUID: string, taskUUIDs: readonly string[]): Promise<void> {
    const meta: GroupMeta = {
      groupUUID,
      taskUUIDs: [...taskUUIDs],
      chordTriggered: false,
      lock: false,
      createdAt: new Date(),
      ttl: 0,
    };
    await this.set(this.key(groupUUID), encodeGroupMeta(meta));
  }

  async getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined> {
    const json = await this.get(this.key(groupUUID));
    return json === undefined ? undefined : decodeGroupMeta(json);
  }

  private async requireMeta(groupUUID: string): Promise<GroupMeta> {
    const meta = await this.getGroupMeta(groupUUID);
    if (!meta) {
      throw new MachineryError('ERR_NOT_FOUND', `Group ${groupUUID} is unknown or its metadata expired.`);
    }
    return meta;
  }

  async groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean> {
    const states = await this.groupTaskStates(groupUUID, groupTaskCount);
    return states.length >= groupTaskCount && states.every((s) => isCompleted(s.state));
  }

  /** Member states in group order; members without a state (never written, expired) are left out. */
  async groupTaskStates(groupUUID: string, _groupTaskCount: number): Promise<TaskState[]> {
    const meta = await this.requireMeta(groupUUID);
    const states: (TaskState | undefined)[] = [];
    // Go reads members one by one; we read them concurrently, a bounded number at a time.
    for (let i = 0; i < meta.taskUUIDs.length; i += READ_CONCURRENCY) {
      const slice = meta.taskUUIDs.slice(i, i + READ_CONCURRENCY);
      states.push(...(await Promise.all(slice.map((uuid) => this.readState(uuid)))));
    }
    return states.filter((s): s is TaskState => s !== undefined);
  }

  /**
   * Exactly one caller per group gets `true`: memcached `add` of `<groupUUID>_chord_triggered` fails
   * for everyone after the first. The winner then marks `ChordTriggered` in the GroupMeta so Go
   * workers (which only look at that flag) see it too.
   */
  async triggerChord(groupUUID: string, by?: string): Promise<boolean> {
    const meta = await this.requireMeta(groupUUID);
    const guard = this.key(groupUUID + CHORD_GUARD_SUFFIX);
    // The guard holds the winner's name: the winner's redelivery, or an `add` memjs retried after a
    // lost reply, must win again rather than drop the chord's callback.
    if (meta.chordTriggered) return by !== undefined && (await this.guardHolder(guard)) === by;
    const token = by ?? randomUUID();
    this.assertOpen();
    let won: boolean;
    try {
      won = await this.client.add(guard, token, { expires: this.expiry() });
    } catch (err) {
      throw this.fail('add', guard, err);
    }
    if (!won && (await this.guardHolder(guard)) !== token) return false;
    meta.chordTriggered = true;
    await this.set(this.key(groupUUID), encodeGroupMeta(meta));
    return true;
  }

  private async guardHolder(guard: string): Promise<string | undefined> {
    this.assertOpen();
    try {
      return (await this.client.get(guard)).value?.toString();
    } catch (err) {
      throw this.fail('get', guard, err);
    }
  }

  async getState(taskUUID: string): Promise<TaskState | undefined> {
    return this.readState(taskUUID);
  }

  async purgeState(taskUUID: string): Promise<void> {
    await this.remove(this.key(taskUUID));
  }

  /** Deletes the GroupMeta and the chord guard. */
  async purgeGroupMeta(groupUUID: string): Promise<void> {
    await Promise.all([
      this.remove(this.key(groupUUID)),
      this.remove(this.key(groupUUID + CHORD_GUARD_SUFFIX)),
    ]);
  }

  /** Closes the connections when the backend created the client. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.close();
  }
}
