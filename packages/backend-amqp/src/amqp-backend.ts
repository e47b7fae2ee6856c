import { ConnectionManager, isNacked, isNotFound, type Link, replyCode } from '@machinery/amqp-connection';
import {
  type Backend,
  type BackendCapabilities,
  childLogger,
  decodeGroupMeta,
  decodeTaskState,
  encodeGroupMeta,
  encodeTaskState,
  errorText,
  type GroupMeta,
  isCompleted,
  isMachineryError,
  type Logger,
  MachineryError,
  nextTaskState,
  resolveLogger,
  SequentialByKey,
  type Signature,
  type StateUpdate,
  StateWritingBackend,
  type TaskState,
  TaskStatus,
} from '@machinery/core';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { operationError } from './errors.js';
import { type AmqpBackendOptions, type ResolvedBackendOptions, resolveBackendOptions } from './options.js';
import {
  chordGuardOptions,
  chordGuardQueue,
  chordTriggeredQueue,
  groupMetaQueue,
  resultQueueOptions,
} from './queues.js';

const noop = () => {};

// A state is out of its queue while another process reads it (taken, then put back at once) — a
// moment, but many readers at once take turns. A reader that finds a queue empty therefore looks again
// for a while before it concludes the queue really is empty; a writer looks a little for the state it
// replaces. (Waiting as a consumer is not an option: Go declares result queues auto-delete, so the
// first consumer to leave would delete the queue.)
const READ_WAIT_MS = 300;
const WRITE_WAIT_MS = 50;

// How long a chord winner keeps the group's copies out of the group queue (see triggerChord): far
// longer than a Go worker takes from its TriggerChord check to its GroupTaskStates count check.
const CHORD_HOLD_MS = 5000;
// Each hold keeps a channel open: past this many at once, winners skip the hold (and its protection).
const MAX_CHORD_HOLDS = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const PROPERTIES = { contentType: 'application/json', deliveryMode: 2 } as const;

function publishConfirmed(ch: ConfirmChannel, queue: string, body: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      // The default exchange routes by queue name: no binding to keep up, whatever the exchange type.
      ch.publish('', queue, body, PROPERTIES, (err: unknown) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

/** Takes up to `max` ready messages of `queue` (without acknowledging them). */
async function take(ch: Channel, queue: string, max = Number.POSITIVE_INFINITY): Promise<Message[]> {
  const out: Message[] = [];
  while (out.length < max) {
    const m = await ch.get(queue, { noAck: false });
    if (m === false) break;
    out.push(m);
  }
  return out;
}

/**
 * Takes the `ready` messages `queue` was found with; when there are none (any more), looks again, at
 * growing jittered intervals, for up to `waitMs`.
 */
async function takeOrWait(ch: Channel, queue: string, ready: number, waitMs: number): Promise<Message[]> {
  let held = ready > 0 ? await take(ch, queue, ready) : [];
  const end = Date.now() + waitMs;
  let pause = 1;
  while (held.length === 0 && Date.now() < end) {
    await sleep(pause * (0.5 + Math.random()));
    pause = Math.min(pause * 2, 25);
    held = await take(ch, queue);
  }
  return held;
}

function decodeOrUndefined(m: Message): TaskState | undefined {
  try {
    return decodeTaskState(m.content.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The current state among a queue's messages. Ours hold one; Go appends one per update and readers
 * walk them, so the newest is the last — unless a reader put an older one back in front meanwhile,
 * which is why a final state wins over any later non-final one.
 */
function newest(held: readonly Message[]): Message | undefined {
  let pick: Message | undefined;
  let pickFinal = false;
  for (const m of held) {
    const final = isCompleted(decodeOrUndefined(m)?.state);
    if (final || !pickFinal) {
      pick = m;
      pickFinal = final;
    }
  }
  return pick;
}

/**
 * Go Machinery's AMQP result backend layout on one long-lived connection: each task's state is a
 * message in a queue named after its UUID (not durable, auto-delete, `x-message-ttl` and `x-expires`
 * = `resultsExpireIn`), each group member's final state is copied into a queue named after the group.
 *
 * Unlike Go, reads do not consume: a read takes the queue's messages, keeps the newest and puts it
 * back, so a state can be read any number of times; a write publishes the new state before it drops
 * the old ones, so the queue is never empty in between. The chord trigger is a queue that holds one
 * message and refuses the rest: the one publish RabbitMQ confirms wins, across any number of
 * processes. It is the slowest backend: prefer Redis (or Memcache) unless RabbitMQ is all you run.
 *
 * @example
 * ```ts
 * const backend = new AmqpBackend({ url: 'amqp://guest:guest@localhost:5672/' })
 * const server = new Server({ broker, backend })
 * ```
 */
export class AmqpBackend extends StateWritingBackend implements Backend {
  // The chord mark cannot be read to learn the winner (a message taken out would make room for a
  // second winner), so a redelivered winner is not recognised: rememberChordWinner is false.
  readonly capabilities: BackendCapabilities = {
    pushResults: false,
    durableReads: true,
    expiry: true,
    rememberChordWinner: false,
  };
  private readonly options: ResolvedBackendOptions;
  private readonly logger: Logger;
  private readonly manager: ConnectionManager;
  private readonly writes = new SequentialByKey();
  private confirm: { link: Link; channel: Promise<ConfirmChannel>; closed: boolean } | undefined;
  /** Group sizes seen complete by groupCompleted, for the triggerChord that follows it. */
  private readonly groupSizes = new Map<string, number>();
  /** Copies a chord winner holds out of their group queue, by group (served by groupTaskStates). */
  private readonly held = new Map<string, { states: TaskState[]; release: () => Promise<void> }>();
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option. */
  constructor(options: AmqpBackendOptions = {}) {
    super();
    this.options = resolveBackendOptions(options);
    this.logger = childLogger(resolveLogger(options.logger), { component: 'backend-amqp' });
    this.manager = new ConnectionManager({
      urls: this.options.urls,
      client: this.options.client,
      clientOptions: this.options.clientOptions,
      connectionName: this.options.connectionName,
      initialDelayMs: this.options.initialDelayMs,
      maxDelayMs: this.options.maxDelayMs,
      logger: this.logger,
      role: 'AMQP backend',
    });
  }

  /** True while a connection to RabbitMQ is open (for health checks; it reconnects by itself). */
  get isConnected(): boolean {
    return this.manager.live !== undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The AMQP backend is closed.');
  }

  /** The long-lived confirm channel of `link` (writes; never used for anything that may 404). */
  private confirmChannel(link: Link): Promise<ConfirmChannel> {
    const current = this.confirm;
    if (current && current.link === link && !current.closed) return current.channel;
    const entry = {
      link,
      closed: false,
      channel: link.model.createConfirmChannel().then((ch) => {
        ch.on('error', (err: Error) =>
          this.logger.warn({ err: err.message }, 'AMQP backend: channel closed'),
        );
        ch.on('close', () => {
          entry.closed = true;
        });
        return ch;
      }),
    };
    entry.channel.catch(() => {
      entry.closed = true;
    });
    this.confirm = entry;
    return entry.channel;
  }

  /**
   * Runs `fn` on a live connection; when the connection is lost meanwhile, runs it again on the next
   * one, within `connectTimeoutMs`.
   */
  private async run<T>(
    what: string,
    channel: 'confirm' | 'own',
    fn: (ch: ConfirmChannel | Channel) => Promise<T>,
    retry = true,
  ): Promise<T> {
    this.assertOpen();
    const deadline = Date.now() + this.options.connectTimeoutMs;
    for (;;) {
      const link = await this.manager.link(Math.max(1, deadline - Date.now()));
      let own: Channel | undefined;
      try {
        if (channel === 'confirm') return await fn(await this.confirmChannel(link));
        // Reads get a channel of their own: a 404 for a missing queue closes it and nothing else.
        own = await link.model.createChannel();
        own.on('error', noop);
        return await fn(own);
      } catch (err) {
        if (retry && link.closed && !this.closed && Date.now() < deadline) continue;
        if (isMachineryError(err)) throw err;
        throw operationError(what, err, link.closed);
      } finally {
        // Closing puts back whatever the read took and did not settle, in its original place.
        if (own) await own.close().catch(noop);
      }
    }
  }

  /**
   * The current message of `queue`, left in place (readers never remove anything: only a writer,
   * which has just stored a newer state, drops older ones); `undefined` when there is none.
   */
  private readLatest(queue: string): Promise<string | undefined> {
    return this.run(`reading queue "${queue}"`, 'own', async (ch) => {
      let ready: number;
      try {
        ready = (await ch.checkQueue(queue)).messageCount;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      const held = await takeOrWait(ch, queue, ready, READ_WAIT_MS);
      // Put back at once, in their places, for the next reader.
      if (held.length > 0) ch.nackAll(true);
      return newest(held)?.content.toString('utf8');
    });
  }

  /** Ready messages in `queue`, or `undefined` when it does not exist. */
  private count(queue: string): Promise<number | undefined> {
    return this.run(`inspecting queue "${queue}"`, 'own', async (ch) => {
      try {
        return (await ch.checkQueue(queue)).messageCount;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
  }

  /** One task's writes in call order (the Worker does not await STARTED before the outcome). */
  protected writeState(sig: Signature, state: TaskStatus, extra: StateUpdate): Promise<void> {
    return this.writes.run(sig.uuid, () => this.storeState(sig, state, extra));
  }

  private async storeState(sig: Signature, state: TaskStatus, extra: StateUpdate): Promise<void> {
    const queueOptions = resultQueueOptions(this.options.ttlMs);
    // Decided on the first attempt: a retry after a lost connection must still copy the final state
    // to the group queue, even though it then finds that state already in the task's queue.
    let copyToGroup: boolean | undefined;
    await this.run(`storing the ${state} state of task ${sig.uuid}`, 'confirm', async (c) => {
      const ch = c as ConfirmChannel;
      const { messageCount } = await ch.assertQueue(sig.uuid, queueOptions);
      const held = await takeOrWait(
        ch,
        sig.uuid,
        messageCount,
        state === TaskStatus.PENDING ? 0 : WRITE_WAIT_MS,
      );
      const last = newest(held);
      const previous = last ? decodeOrUndefined(last) : undefined;
      const body = Buffer.from(encodeTaskState(nextTaskState(sig, state, extra, previous)));
      await publishConfirmed(ch, sig.uuid, body);
      // Superseded states go only now, so a reader never finds the queue empty.
      for (const m of held) ch.ack(m);
      // Like Go, final states of group members are copied to the group's queue; groupCompleted counts
      // them. A task already final is copied only when its group lacks its copy: a redelivered duplicate
      // is not counted twice, but a member marked FAILURE without its group (a revoked waiting task,
      // marked by the revoker, who knows only its UUID) is counted once its worker refuses it.
      copyToGroup ??=
        isCompleted(state) &&
        sig.groupUUID !== '' &&
        sig.groupTaskCount > 0 &&
        (!isCompleted(previous?.state) || !(await this.groupHoldsCopy(sig.groupUUID, sig.uuid)));
      if (copyToGroup) {
        await ch.assertQueue(sig.groupUUID, queueOptions);
        await publishConfirmed(ch, sig.groupUUID, body);
      }
    });
  }

  /** True when the group's queue already holds a final state of `taskUUID` (the queue is left as it was). */
  private groupHoldsCopy(groupUUID: string, taskUUID: string): Promise<boolean> {
    return this.run(`reading group ${groupUUID}`, 'own', async (ch) => {
      try {
        await ch.checkQueue(groupUUID);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
      // Taken and put back when the channel closes.
      const copies = await take(ch, groupUUID);
      return copies.some((m) => decodeOrUndefined(m)?.taskUUID === taskUUID);
    });
  }

  /** Stores the group's metadata in `<groupUUID>_meta` (Go stores none; it needs none to read results). */
  async initGroup(groupUUID: string, taskUUIDs: readonly string[]): Promise<void> {
    const queue = groupMetaQueue(groupUUID);
    const meta: GroupMeta = {
      groupUUID,
      taskUUIDs: [...taskUUIDs],
      chordTriggered: false,
      lock: false,
      createdAt: new Date(),
      ttl: 0,
    };
    await this.run(`storing the metadata of group ${groupUUID}`, 'confirm', async (c) => {
      const ch = c as ConfirmChannel;
      await ch.assertQueue(queue, resultQueueOptions(this.options.ttlMs));
      const held = await take(ch, queue);
      await publishConfirmed(ch, queue, Buffer.from(encodeGroupMeta(meta)));
      for (const m of held) ch.ack(m);
    });
  }

  async getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined> {
    const json = await this.readLatest(groupMetaQueue(groupUUID));
    if (json === undefined) return undefined;
    const meta = decodeGroupMeta(json);
    if (!meta.chordTriggered) meta.chordTriggered = ((await this.count(chordGuardQueue(groupUUID))) ?? 0) > 0;
    return meta;
  }

  /** True once the group's queue holds `groupTaskCount` final states (Go's test; false when the queue is missing). */
  async groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean> {
    const completed = ((await this.count(groupUUID)) ?? 0) >= groupTaskCount;
    if (completed) {
      if (this.groupSizes.size >= 10_000) this.groupSizes.clear();
      this.groupSizes.set(groupUUID, groupTaskCount);
    }
    return completed;
  }

  /**
   * Member states in group order (completion order for groups without metadata, e.g. sent by Go),
   * read from the group's queue without consuming it; a member missing there is read from its own queue.
   */
  async groupTaskStates(groupUUID: string, _groupTaskCount: number): Promise<TaskState[]> {
    const meta = await this.getGroupMeta(groupUUID);
    const copies = await this.run(`reading group ${groupUUID}`, 'own', async (ch) => {
      try {
        await ch.checkQueue(groupUUID);
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
      // Taken and put back when the channel closes.
      return (await take(ch, groupUUID)).map((m) => m.content.toString('utf8'));
    });
    const byUUID = new Map<string, TaskState>();
    // The copies this process holds out of the queue as the chord's winner.
    for (const state of this.held.get(groupUUID)?.states ?? []) byUUID.set(state.taskUUID, state);
    for (const json of copies) {
      const s = decodeTaskState(json);
      byUUID.set(s.taskUUID, s);
    }
    if (!meta) return [...byUUID.values()];
    const states = await Promise.all(
      meta.taskUUIDs.map(async (uuid) => byUUID.get(uuid) ?? (await this.getState(uuid))),
    );
    return states.filter((s): s is TaskState => s !== undefined);
  }

  /**
   * Exactly one call per group ever returns `true`: each publishes a mark into `<groupUUID>_chord_guard`,
   * a queue with room for one message that refuses the rest, and only the publish RabbitMQ confirms
   * positively wins — an atomic decision inside RabbitMQ, whatever the number of processes. The mark is
   * never read (a message taken out of the queue would make room for a second winner). When the
   * connection is lost before the confirm, this rejects instead of guessing; the Worker then retries the
   * task, and its recovery path sends a callback that was won but never sent.
   *
   * Go workers decide differently (README, "Chords in a mixed fleet"): `<groupUUID>_chord_triggered` is
   * declared first so that Go's `TriggerChord` declines from then on, and the winner then stands back
   * (`false`) when a Go worker is already consuming the group's copies to fire the chord, or holds the
   * copies out of the group queue for a few seconds so that a Go worker that passed its `TriggerChord`
   * check a moment earlier fails its count check.
   */
  async triggerChord(groupUUID: string): Promise<boolean> {
    const mark = Buffer.from(JSON.stringify({ GroupUUID: groupUUID, TriggeredAt: new Date() }));
    const won = await this.run(
      `triggering the chord of group ${groupUUID}`,
      'confirm',
      async (c) => {
        const ch = c as ConfirmChannel;
        const options = chordGuardOptions(this.options.ttlMs);
        await ch.assertQueue(chordTriggeredQueue(groupUUID), options);
        await ch.assertQueue(chordGuardQueue(groupUUID), options);
        try {
          await publishConfirmed(ch, chordGuardQueue(groupUUID), mark);
          return true;
        } catch (err) {
          if (isNacked(err)) return false;
          throw err;
        }
      },
      false,
    );
    if (!won) return false;
    return this.shutOutGo(groupUUID);
  }

  /**
   * After winning: `false` when a Go worker is firing the chord (its exclusive consumer is on the group
   * queue, or it consumed the copies); otherwise takes the copies and holds them out of the queue for
   * CHORD_HOLD_MS, so a Go worker between its TriggerChord and GroupTaskStates fails Go's count check.
   * Any doubt (the queue is gone, an error) answers `true`: a possible duplicate, never a lost chord.
   */
  private async shutOutGo(groupUUID: string): Promise<boolean> {
    const expected = this.groupSizes.get(groupUUID);
    this.groupSizes.delete(groupUUID);
    let link: Link;
    let ch: Channel;
    try {
      link = await this.manager.link(this.options.connectTimeoutMs);
      ch = await link.model.createChannel();
    } catch (err) {
      this.logger.warn({ groupUUID, err: errorText(err) }, 'AMQP backend: cannot hold the chord copies');
      return true;
    }
    ch.on('error', noop);
    const release = () => ch.close().catch(noop);
    try {
      let ready: number;
      try {
        const q = await ch.checkQueue(groupUUID);
        // Our readers use basic.get; only Go's GroupTaskStates consumes a group queue.
        if (q.consumerCount > 0) {
          await release();
          return false;
        }
        ready = q.messageCount;
      } catch (err) {
        // Gone: purged by a Go worker (which stood back, or fired and purged — the case we cannot tell).
        await release();
        return isNotFound(err) ? true : this.doubt(groupUUID, err);
      }
      if (this.held.size >= MAX_CHORD_HOLDS) {
        await release();
        return true;
      }
      const want = expected ?? ready;
      const got = await takeOrWait(ch, groupUUID, ready, 0);
      const end = Date.now() + READ_WAIT_MS;
      // Another process may be reading the copies this moment (taken and put back): look again.
      while (got.length < want && Date.now() < end) {
        await sleep(5 * (0.5 + Math.random()));
        got.push(...(await take(ch, groupUUID)));
      }
      if (got.length < want) {
        // Copies consumed: a Go worker took them to fire the chord.
        await release();
        return false;
      }
      const states: TaskState[] = [];
      for (const m of got) {
        const state = decodeOrUndefined(m);
        if (state) states.push(state);
      }
      const timer = setTimeout(() => void entry.release(), CHORD_HOLD_MS);
      timer.unref();
      const entry = {
        states,
        release: async () => {
          clearTimeout(timer);
          if (this.held.get(groupUUID) === entry) this.held.delete(groupUUID);
          // Closing the channel puts the copies back, in their places.
          await release();
        },
      };
      await this.held.get(groupUUID)?.release();
      this.held.set(groupUUID, entry);
      return true;
    } catch (err) {
      await release();
      return this.doubt(groupUUID, err);
    }
  }

  private doubt(groupUUID: string, err: unknown): boolean {
    // An exclusive consumer (Go's) refuses our basic.get with 403: Go is firing the chord.
    if (replyCode(err) === 403) return false;
    this.logger.warn({ groupUUID, err: errorText(err) }, 'AMQP backend: cannot hold the chord copies');
    return true;
  }

  /** The newest state of the task, left in its queue for the next reader (Go's `GetState` consumes it). */
  async getState(taskUUID: string): Promise<TaskState | undefined> {
    const json = await this.readLatest(taskUUID);
    return json === undefined ? undefined : decodeTaskState(json);
  }

  /** Deletes the task's queue (as Go does). */
  async purgeState(taskUUID: string): Promise<void> {
    await this.run(`deleting the state of task ${taskUUID}`, 'confirm', async (ch) => {
      await ch.deleteQueue(taskUUID);
    });
  }

  /** Deletes the group's queue, its metadata and its chord mark. */
  async purgeGroupMeta(groupUUID: string): Promise<void> {
    await this.held.get(groupUUID)?.release();
    await this.run(`deleting group ${groupUUID}`, 'confirm', async (ch) => {
      await ch.deleteQueue(groupUUID);
      await ch.deleteQueue(groupMetaQueue(groupUUID));
      await ch.deleteQueue(chordTriggeredQueue(groupUUID));
      await ch.deleteQueue(chordGuardQueue(groupUUID));
    });
  }

  /** Closes the channel and the connection (unless it was passed as `client`). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.all([...this.held.values()].map((h) => h.release()));
      const confirm = this.confirm;
      this.confirm = undefined;
      if (confirm) await confirm.channel.then((ch) => ch.close()).catch(noop);
      await this.manager.close();
    })();
    return this.closing;
  }
}
