import type { TaskStateParts } from '@machinery/core';
import { type Carried, JointScript, LuaScript, type StepCarrier } from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import { SET_STATES } from './scripts.js';

const setStatesScript = new LuaScript(SET_STATES);
/**
 * Most states written by one script call. A turn's writes leave as several calls of at most this many:
 * Redis starts on the first while this process encodes the next, and their replies come back apart, so
 * the callers they release (a producer's next sends, a worker's next tasks) no longer move in one
 * cohort that leaves Redis and this process waiting on each other in turn. 100 sends in flight: about
 * 1.5× the sends per second of one call per turn; a drain at concurrency 100 with results: about 1.2×
 * (bench/README.md, "One round trip per send").
 */
const MAX_BATCH = 50;

/** `SET_STATES`' layout of whole replacing values (see there). */
const WHOLE_VALUES = '=';

function noop(): void {}

/**
 * Encodes each entry's state and hands it to `add`; an entry whose state cannot be encoded fails its
 * writers and is left out. Returns the entries handed on.
 */
function encodeEach(entries: Entry[], add: (e: Entry, parts: TaskStateParts) => void): Entry[] {
  const batch: Entry[] = [];
  for (const e of entries) {
    let parts: TaskStateParts;
    try {
      parts = e.encode();
    } catch (err) {
      for (const w of e.waiters) w.reject(err);
      continue;
    }
    batch.push(e);
    add(e, parts);
  }
  return batch;
}

function isPlainReplace(e: Entry): boolean {
  return e.mode === 'replace' && e.channel === '';
}

/**
 * How a write treats the state stored before it (core's `keepsEarlierState` decides): `keepEarlier`
 * keeps its `CreatedAt`, and its `TaskName` when the new one is empty; `replace` stores the new state
 * as it is (PENDING, as Go writes it).
 */
export type WriteMode = 'keepEarlier' | 'replace';

/** The script's one-letter spelling of each mode (see `SET_STATES`). */
const SCRIPT_MODE: Readonly<Record<WriteMode, string>> = { keepEarlier: 'k', replace: 'r' };

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Entry {
  readonly key: string;
  mode: WriteMode;
  /**
   * Encodes the state (core's `encodeTaskStateParts`), called once the batch leaves: a write folded
   * into a later one of the same turn is never encoded.
   */
  encode: () => TaskStateParts;
  channel: string;
  readonly waiters: Waiter[];
  /**
   * Work of another adapter to do in the same script call once the writes are stored: a delivery's
   * acknowledgement, or the publication of tasks whose `PENDING` this is.
   */
  carried: Carried<unknown> | undefined;
}

/**
 * Gathers the state writes of one event-loop turn into one script call: a worker running 100 tasks
 * stores their STARTED (then SUCCESS) states together, in one round trip each, and each caller's
 * promise still settles with its own write. Two merging writes of one task queued in the same turn
 * (a fast task's STARTED and SUCCESS) become one: the script would overwrite the first with the second
 * in the same atomic call anyway, so nobody could have read it. A write may carry another adapter's
 * step on the same server (a Redis broker's acknowledgement or publication): the call then runs it
 * right after the writes, as one {@link JointScript}, only when they all succeeded.
 */
export class StateWriter {
  private queue: Entry[] = [];
  /** The writes of this turn by key. Replaced, never cleared (see core's `Dictionary` for why). */
  private queued = new Map<string, Entry>();
  private scheduled = false;
  private readonly sending = new Set<Promise<void>>();
  /** The joint scripts of state writes and the steps they carry, by the carried step's Lua. */
  private readonly joints = new Map<string, JointScript>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Queues one write to `key` of the state `encode` returns (core's `encodeTaskStateParts`, called
   * when the batch leaves), published on `channel` unless it is `''`; resolves once it is stored, and
   * rejects with what `encode` throws.
   */
  write(
    key: string,
    mode: WriteMode,
    encode: () => TaskStateParts,
    channel: string,
    carried?: Carried<unknown>,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const earlier = this.queued.get(key);
      // Only a keeping write replaces a keeping write: a `replace` (PENDING) resets CreatedAt, so
      // neither it nor a write after it may be folded into the other.
      if (earlier && mode === 'keepEarlier' && earlier.mode === 'keepEarlier') {
        earlier.encode = encode;
        earlier.channel = channel;
        earlier.waiters.push({ resolve, reject });
        if (carried) earlier.carried = carried;
        return;
      }
      const entry: Entry = { key, mode, encode, channel, waiters: [{ resolve, reject }], carried };
      this.queue.push(entry);
      this.queued.set(key, entry);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Stores whole states that replace what is stored (a bulk send's PENDING) in one script call, after
   * every write queued before it, so that this turn's writes to the same keys keep call order.
   */
  writeReplacing(keys: readonly string[], values: readonly string[]): Promise<unknown> {
    if (this.scheduled) this.flush();
    const run = setStatesScript.run(this.client, keys, [this.ttlSeconds, WHOLE_VALUES, ...values]);
    // drain() (the backend's close) waits for these as for the batched writes.
    const tracked = run.then(noop, noop);
    this.sending.add(tracked);
    void tracked.finally(() => this.sending.delete(tracked));
    return run;
  }

  private flush(): void {
    this.scheduled = false;
    this.queued = new Map();
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      const run = this.send(batch);
      this.sending.add(run);
      void run.finally(() => this.sending.delete(run));
    }
  }

  /**
   * The next script call's writes, in call order: up to {@link MAX_BATCH}, carrying the work of one
   * adapter at most (the next adapter's starts the next call, which the connection sends after this).
   */
  private takeBatch(): Entry[] {
    let carrier: StepCarrier<unknown> | undefined;
    let n = 0;
    for (const e of this.queue) {
      if (n === MAX_BATCH) break;
      const c = e.carried?.carrier;
      if (c !== undefined) {
        if (carrier !== undefined && c !== carrier) break;
        carrier = c;
      }
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async send(entries: Entry[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [this.ttlSeconds];
    let batch: Entry[];
    if (entries.every(isPlainReplace)) {
      // Only replacing writes published nowhere (a producer's PENDINGs): SET_STATES' layout of whole
      // values, one argument per key instead of seven, and no read of the earlier values.
      args.push(WHOLE_VALUES);
      batch = encodeEach(entries, (e, parts) => {
        keys.push(e.key);
        args.push(parts.head + parts.taskName + parts.middle + parts.createdAt + parts.tail);
      });
    } else {
      batch = encodeEach(entries, (e, parts) => {
        keys.push(e.key);
        const mode = SCRIPT_MODE[e.mode];
        args.push(mode, parts.head, parts.taskName, parts.middle, parts.createdAt, parts.tail, e.channel);
      });
    }
    if (batch.length === 0) return;
    const items: unknown[] = [];
    let carrier: StepCarrier<unknown> | undefined;
    for (const e of batch) {
      if (e.carried === undefined) continue;
      carrier = e.carried.carrier;
      items.push(e.carried.item);
    }
    const step = carrier?.carry(items);
    let reply: unknown;
    let settled: unknown = null;
    try {
      if (step === undefined) {
        reply = await setStatesScript.run(this.client, keys, args);
      } else {
        [reply, settled] = await this.joint(step.lua).run(this.client, { lua: SET_STATES, keys, args }, step);
      }
    } catch (err) {
      step?.failed(err);
      for (const e of batch) for (const w of e.waiters) w.reject(err);
      return;
    }
    // The carried step first: the tasks an acknowledgement claimed are handed over before the slots
    // of the stored ones free (when these promises settle), so the next cohort starts whole.
    let stepError: unknown;
    if (step !== undefined) {
      // A write that failed held back the whole step. Unacknowledged tasks come back after their lease
      // and their stored outcomes make the Worker acknowledge them without a rerun; unpublished tasks
      // fail their send.
      if (settled === null) stepError = new Error('A state write of the same call failed.');
      else if (settled instanceof Error) stepError = settled;
      if (stepError === undefined) step.done(settled);
      else step.failed(stepError);
    }
    const failsWrites = step?.failsWrites === true && stepError !== undefined;
    // The whole-value layout replies with a count: its writes either all succeeded or failed the call.
    const perWrite = Array.isArray(reply) ? reply : undefined;
    batch.forEach((e, i) => {
      let failure: unknown;
      if (perWrite !== undefined && Number(perWrite[i]) !== 1) failure = new Error(String(perWrite[i]));
      else if (failsWrites && e.carried !== undefined) failure = stepError;
      for (const w of e.waiters) {
        if (failure === undefined) w.resolve();
        else w.reject(failure);
      }
    });
  }

  private joint(lua: string): JointScript {
    let joint = this.joints.get(lua);
    if (joint === undefined) {
      joint = new JointScript(SET_STATES, lua);
      this.joints.set(lua, joint);
    }
    return joint;
  }

  /** Sends what is queued and waits for every write in flight. */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await Promise.all([...this.sending]);
  }
}
