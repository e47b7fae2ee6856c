import { randomUUID } from 'node:crypto';
import {
  type Backend,
  type BackendCapabilities,
  type Broker,
  childLogger,
  DecodeError,
  type Delivery,
  decodeGroupMeta,
  decodeTaskState,
  decodeTaskStatus,
  encodeGroupMeta,
  encodeTaskState,
  encodeTaskStateParts,
  type GroupMeta,
  isCompleted,
  isMachineryError,
  keepsEarlierState,
  type Logger,
  MachineryError,
  nextTaskState,
  redactText,
  resolveLogger,
  type Signature,
  type StateUpdate,
  StateWritingBackend,
  type TaskState,
  TaskStatus,
} from '@machinery/core';
import {
  type Carried,
  carriedAck,
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  hasHashTag,
  LuaScript,
  publicationCarrier,
  redisConnectionError,
  type StepCarrier,
  sameRedisServer,
} from '@machinery/redis-connection';
import { Cluster, type Redis } from 'ioredis';
import { CompletionWaiters } from './completion-waiters.js';
import type { RedisBackendOptions } from './options.js';
import { TRIGGER_CHORD } from './scripts.js';
import { StateWriter, type WriteMode } from './state-writer.js';

const triggerChordScript = new LuaScript(TRIGGER_CHORD);

/**
 * How long a writer trusts what it last read of the listening mark: a waiter that appeared since is
 * woken by its re-reads instead of a message, at most this long.
 */
const LISTENING_CHECK_MS = 500;
/**
 * The same while the last look found nobody listening: a producer that starts awaiting results is
 * noticed this soon, so few of its first results wait for a re-read (50 ms or more) instead of a message.
 */
const QUIET_LISTENING_CHECK_MS = 50;

/**
 * The PENDING states of a bulk send stored per script call: Redis starts on the first call while the
 * next are still being encoded (1,000 per call took 20–30 % longer for batches of 1,000).
 */
const PENDING_PER_CALL = 100;

/** The replies of the TRIGGER_CHORD script. */
const ChordTrigger = {
  won: 1,
  alreadyTriggered: 0,
  noGroup: -1,
  goMutexHeld: -2,
  noFlag: -3,
} as const;

/** How long `triggerChord` waits for Go Machinery's chord mutex (Go's redsync default expiry is 8 s). */
const CHORD_MUTEX_WAIT_MS = 10_000;

/**
 * A Redis result backend in Go Machinery's layout: `<UUID>` → TaskState JSON and `<groupUUID>` →
 * GroupMeta JSON, each written with `SET … EX` (default 3600 s). Every state write is one atomic step
 * that keeps the task name and creation time of earlier writes; completed states are also published,
 * so `AsyncResult.get()` is woken by Redis instead of polling. Chords trigger exactly once per group
 * (atomic, per group — no global lock) and set `ChordTriggered` for Go readers.
 *
 * @example
 * ```ts
 * const backend = new RedisBackend({ url: 'redis://127.0.0.1:6379', resultsExpireIn: 3600 })
 * const server = new Server({ broker, backend })
 * ```
 */
export class RedisBackend extends StateWritingBackend implements Backend {
  readonly capabilities: BackendCapabilities = {
    pushResults: true,
    durableReads: true,
    expiry: true,
    rememberChordWinner: true,
  };
  /** The ioredis client in use (the one passed in, or the one the backend created). */
  readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly chordMutex: string;
  private readonly where: string;
  private readonly logger: Logger;
  private readonly waiters: CompletionWaiters;
  private readonly writer: StateWriter;
  /** Whether a broker's client reaches this backend's server, by client (see `storeAndAcknowledge`). */
  private readonly sameServer = new WeakMap<object, boolean>();
  private closing: Promise<void> | undefined;
  /** Whether a backend of this prefix awaited results when the listening mark was last read. */
  private listening = true;
  private listeningReadAt = Number.NEGATIVE_INFINITY;
  private listeningRead: Promise<void> | undefined;

  constructor(options: RedisBackendOptions = {}) {
    super();
    this.prefix = options.prefix ?? '';
    const ttl = options.resultsExpireIn ?? 3600;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `RedisBackend option resultsExpireIn must be a whole number of seconds ≥ 1, got ${ttl}.`,
      );
    }
    this.ttl = ttl;
    this.chordMutex = this.prefix + (options.chordMutexKey ?? 'TriggerChordMutex');
    this.logger = childLogger(resolveLogger(options.logger), { component: 'redis-backend' });
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createRedisClient(options.url, options.clientOptions);
      this.ownsClient = true;
      this.client.on('error', (err: Error) => {
        this.logger.debug({ err: redactText(err.message) }, 'Redis connection error');
      });
    }
    if (this.client instanceof Cluster && !hasHashTag(this.prefix)) {
      if (this.ownsClient) this.client.disconnect();
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `A Redis Cluster needs a key prefix with a hash tag, e.g. prefix: '{results}:', so that a group and its members share one slot (got prefix ${JSON.stringify(this.prefix)}).`,
      );
    }
    this.where = options.client ? describeRedisClient(this.client) : (options.url ?? DEFAULT_REDIS_URL);
    this.writer = new StateWriter(this.client, this.ttl);
    this.waiters = new CompletionWaiters(
      this.client,
      `${this.prefix}machinery:done:`,
      this.listeningKey(),
      (uuids) => this.client.mget(uuids.map((u) => this.prefix + u)),
      this.logger,
    );
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw closedBackendError();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await fn();
    } catch (err) {
      throw redisConnectionError(what, this.where, err, this.client);
    }
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
    await this.call('Storing group metadata', () =>
      this.client.set(this.prefix + groupUUID, encodeGroupMeta(meta), 'EX', this.ttl),
    );
  }

  async getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined> {
    const json = await this.call('Reading group metadata', () => this.client.get(this.prefix + groupUUID));
    return json === null ? undefined : decodeGroupMeta(json);
  }

  private async memberValues(groupUUID: string): Promise<(string | null)[]> {
    const meta = await this.getGroupMeta(groupUUID);
    if (!meta) {
      throw new MachineryError(
        'ERR_NOT_FOUND',
        `Group ${groupUUID} is unknown or its metadata expired (results are kept ${this.ttl} s).`,
      );
    }
    if (meta.taskUUIDs.length === 0) return [];
    return this.call('Reading group member states', () =>
      this.client.mget(meta.taskUUIDs.map((u) => this.prefix + u)),
    );
  }

  async groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean> {
    const values = await this.memberValues(groupUUID);
    let present = 0;
    for (const v of values) {
      if (v === null) continue;
      present++;
      if (!isCompleted(decodeTaskStatus(v))) return false;
    }
    return present >= groupTaskCount;
  }

  async groupTaskStates(groupUUID: string, _groupTaskCount: number): Promise<TaskState[]> {
    const values = await this.memberValues(groupUUID);
    const out: TaskState[] = [];
    for (const v of values) if (v !== null) out.push(decodeTaskState(v));
    return out;
  }

  /** Set by every backend of this prefix while it awaits results (see `CompletionWaiters`). */
  private listeningKey(): string {
    return `${this.prefix}machinery:listening`;
  }

  /**
   * Whether to publish the completion of `uuid`: when this backend awaits it, or when any backend
   * of the prefix awaited results at the last look at the listening mark. That look is taken in the
   * background at most every {@link LISTENING_CHECK_MS} ({@link QUIET_LISTENING_CHECK_MS} while nobody
   * listened; a task costs no extra command, and a write
   * never waits for it, so one task's writes keep their order); until the first answer, completions
   * are published. Nobody listening, nothing is published; a waiter that started since is woken by
   * its re-reads.
   */
  private someoneListens(uuid: string): boolean {
    if (this.waiters.isAwaiting(uuid)) return true;
    const everyMs = this.listening ? LISTENING_CHECK_MS : QUIET_LISTENING_CHECK_MS;
    if (this.listeningRead === undefined && Date.now() - this.listeningReadAt >= everyMs) {
      this.listeningRead = this.client
        .exists(this.listeningKey())
        .then(
          (n) => {
            this.listening = n === 1;
            this.listeningReadAt = Date.now();
          },
          () => {
            // Unknown: publish; the writes report the connection problem themselves.
            this.listening = true;
          },
        )
        .finally(() => {
          this.listeningRead = undefined;
        });
    }
    return this.listening;
  }

  /** Where the winner of a group's chord trigger is kept (beside the GroupMeta, same expiry). */
  private chordTriggerKey(groupUUID: string): string {
    return `${this.prefix}${groupUUID}:chord_trigger`;
  }

  async triggerChord(groupUUID: string, by?: string): Promise<boolean> {
    const deadline = Date.now() + CHORD_MUTEX_WAIT_MS;
    const keys = [this.prefix + groupUUID, this.chordMutex, this.chordTriggerKey(groupUUID)];
    // Without a caller's name, a random one still makes a resent command of the winner win again.
    const token = by ?? randomUUID();
    for (;;) {
      const result = Number(
        await this.call('Triggering a chord', () =>
          triggerChordScript.run(this.client, keys, [this.ttl, token]),
        ),
      );
      if (result === ChordTrigger.won) return true;
      if (result === ChordTrigger.alreadyTriggered) return false;
      if (result === ChordTrigger.noGroup) {
        throw new MachineryError('ERR_NOT_FOUND', `Group ${groupUUID} is unknown or its metadata expired.`);
      }
      if (result === ChordTrigger.noFlag) {
        throw new DecodeError(`Group metadata of ${groupUUID} has no ChordTriggered flag`, 'ChordTriggered');
      }
      // ChordTrigger.goMutexHeld: a Go worker holds its global chord mutex; its critical section is short.
      if (Date.now() > deadline) {
        throw new MachineryError(
          'ERR_CONNECTION',
          `Go Machinery's chord mutex "${this.chordMutex}" stayed held for ${CHORD_MUTEX_WAIT_MS} ms; the chord of ${groupUUID} was not triggered. Retry the task.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    }
  }

  /**
   * Stores `PENDING` for every signature (see `Backend.setStatesPending`), after the writes this
   * backend queued before, in script calls of {@link PENDING_PER_CALL}.
   */
  setStatesPending(signatures: readonly Signature[]): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(closedBackendError());
    const calls: Promise<unknown>[] = [];
    try {
      for (let from = 0; from < signatures.length; from += PENDING_PER_CALL) {
        const to = Math.min(from + PENDING_PER_CALL, signatures.length);
        const keys: string[] = [];
        const values: string[] = [];
        for (let i = from; i < to; i++) {
          const sig = signatures[i] as Signature;
          keys.push(this.prefix + sig.uuid);
          values.push(encodeTaskState(nextTaskState(sig, TaskStatus.PENDING, {})));
        }
        calls.push(this.writer.writeReplacing(keys, values));
      }
    } catch (err) {
      calls.push(Promise.reject(err));
    }
    return Promise.all(calls).then(
      () => {},
      (err: unknown) => {
        throw redisConnectionError(
          `Storing state PENDING of ${signatures.length} tasks`,
          this.where,
          err,
          this.client,
        );
      },
    );
  }

  protected writeState(sig: Signature, status: TaskStatus, update: StateUpdate): Promise<void> {
    return this.write(sig, status, update, undefined);
  }

  /**
   * Stores the final state and acknowledges the delivery in one script call when the delivery comes
   * from a Redis broker on the same server (see `Backend.storeAndAcknowledge`): the broker's settle
   * script runs right after the state writes of the call, and only when they all succeeded.
   */
  storeAndAcknowledge(
    delivery: Delivery,
    status: typeof TaskStatus.SUCCESS | typeof TaskStatus.FAILURE,
    update: StateUpdate,
  ): Promise<void> | undefined {
    const ack = carriedAck(delivery);
    if (ack === undefined || !this.canCarry(ack.carrier)) return undefined;
    return this.write(delivery.signature, status, update, ack);
  }

  /**
   * Stores `PENDING` and publishes the task in one script call when `broker` is a Redis broker on the
   * same server (see `Backend.setStatePendingAndPublish`): the broker's publication runs right after
   * the state writes of the call, and only when they all succeeded.
   */
  setStatePendingAndPublish(sig: Signature, broker: Broker): Promise<void> | undefined {
    const carrier = publicationCarrier(broker);
    // A Cluster would refuse a call whose state key and queue key sit in two slots.
    if (carrier === undefined || this.client.isCluster || !this.canCarry(carrier)) return undefined;
    let item: unknown;
    try {
      item = carrier.prepare(sig);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.write(sig, TaskStatus.PENDING, {}, { carrier, item }, ' and publishing it');
  }

  /** Whether another adapter's step can ride in this backend's script calls: open, and on its server. */
  private canCarry(carrier: StepCarrier<unknown>): boolean {
    if (this.closing !== undefined) return false;
    let same = this.sameServer.get(carrier.client);
    if (same === undefined) {
      same = sameRedisServer(this.client, carrier.client);
      this.sameServer.set(carrier.client, same);
    }
    return same;
  }

  /**
   * Queues the write of `status` in the state writer. Every task makes two of these (STARTED and its
   * outcome), so it allocates no async frames and builds the error's text only on failure.
   */
  private write(
    sig: Signature,
    status: TaskStatus,
    update: StateUpdate,
    carried: Carried<unknown> | undefined,
    alsoDoing = '',
  ): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(closedBackendError());
    // The state as if nothing were stored yet; when core's rule keeps the earlier name and creation
    // time, the write script puts the stored ones in their place, in the same atomic step.
    const encode = () => encodeTaskStateParts(nextTaskState(sig, status, update));
    const mode: WriteMode = keepsEarlierState(status) ? 'keepEarlier' : 'replace';
    // Completed states are published while anyone waits for results.
    const publish = isCompleted(status) && this.someoneListens(sig.uuid);
    const channel = publish ? `${this.prefix}machinery:done:${sig.uuid}` : '';
    return this.writer.write(this.prefix + sig.uuid, mode, encode, channel, carried).catch((err: unknown) => {
      throw redisConnectionError(
        `Storing state ${status} of task ${sig.uuid}${alsoDoing}`,
        this.where,
        err,
        this.client,
      );
    });
  }

  async getState(taskUUID: string): Promise<TaskState | undefined> {
    const json = await this.call('Reading a task state', () => this.client.get(this.prefix + taskUUID));
    return json === null ? undefined : decodeTaskState(json);
  }

  waitForState(taskUUID: string, signal: AbortSignal): Promise<TaskState> {
    if (this.closing !== undefined)
      return Promise.reject(new MachineryError('ERR_CLOSED', 'The Redis backend is closed.'));
    return this.waiters.wait(taskUUID, signal).catch((err: unknown) => {
      // The caller's abort reason passes through as it is; a Redis failure is explained (and redacted).
      if (err === signal.reason || isMachineryError(err)) throw err;
      throw redisConnectionError(`Waiting for the result of task ${taskUUID}`, this.where, err, this.client);
    });
  }

  async purgeState(taskUUID: string): Promise<void> {
    await this.call('Deleting a task state', () => this.client.del(this.prefix + taskUUID));
  }

  async purgeGroupMeta(groupUUID: string): Promise<void> {
    await this.call('Deleting group metadata', () =>
      this.client.del(this.prefix + groupUUID, this.chordTriggerKey(groupUUID)),
    );
  }

  /** Closes the connections the backend opened (a client passed in stays open). Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.waiters.close();
    // Writes in flight finish first; with Redis down they fail with the connection instead.
    const grace = this.client.status === 'ready' ? 2000 : 0;
    await Promise.race([this.writer.drain(), new Promise((resolve) => setTimeout(resolve, grace).unref())]);
    if (this.ownsClient) await closeRedisClient(this.client);
  }
}

function closedBackendError(): MachineryError {
  return new MachineryError(
    'ERR_CLOSED',
    'The Redis backend is closed. Create a new RedisBackend to continue.',
  );
}
