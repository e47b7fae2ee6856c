import { type Backend, type BackendCapabilities, StateWritingBackend } from '../backend.js';
import { decodeGroupMeta, decodeTaskState, encodeGroupMeta, encodeTaskState } from '../codec.js';
import { Dictionary } from '../dictionary.js';
import { MachineryError } from '../errors.js';
import type { Signature } from '../signature.js';
import {
  type GroupMeta,
  isCompleted,
  keepsEarlierState,
  nextTaskState,
  type StateUpdate,
  type TaskState,
  type TaskStatus,
} from '../state.js';

interface Entry {
  json: string;
  expiresAt: number;
}

/**
 * The in-process "server" behind {@link MemoryBackend}; share it between instances to model several
 * connections to one store. Values are kept as Go Machinery JSON, exactly as Redis would hold them.
 */
export class MemoryBackendStore {
  /** @internal */ readonly entries = new Map<string, Entry>();
  /** @internal By task UUID; not a `Map`: one comes and goes per awaited task (see `Dictionary`). */
  readonly waiters = new Dictionary<Set<(s: TaskState) => void>>();

  /** @internal */
  read(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.json;
  }
}

const chordWinnerKey = (groupUUID: string) => `${groupUUID}:chord_winner`;

/** Options for {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Share one store between instances. */
  store?: MemoryBackendStore;
  /** Seconds a state or group is kept after its last write (default 3600, as Go). */
  resultsExpireIn?: number;
}

/**
 * A real in-process result backend: Go-compatible TaskState/GroupMeta JSON with expiry, an atomic
 * chord trigger and pushed completion (`waitForState`).
 */
export class MemoryBackend extends StateWritingBackend implements Backend {
  readonly capabilities: BackendCapabilities = {
    pushResults: true,
    durableReads: true,
    expiry: true,
    rememberChordWinner: true,
  };
  private readonly store: MemoryBackendStore;
  private readonly ttlMs: number;
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    super();
    this.store = options.store ?? new MemoryBackendStore();
    this.ttlMs = (options.resultsExpireIn ?? 3600) * 1000;
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The memory backend is closed.');
  }

  private write(key: string, json: string): void {
    this.store.entries.set(key, { json, expiresAt: Date.now() + this.ttlMs });
  }

  protected async writeState(sig: Signature, state: TaskStatus, extra: StateUpdate): Promise<void> {
    this.assertOpen();
    const previousJson = keepsEarlierState(state) ? this.store.read(sig.uuid) : undefined;
    const previous = previousJson === undefined ? undefined : decodeTaskState(previousJson);
    const next = nextTaskState(sig, state, extra, previous);
    this.write(sig.uuid, encodeTaskState(next));
    if (isCompleted(state)) {
      const waiters = this.store.waiters.get(sig.uuid);
      if (waiters) {
        this.store.waiters.delete(sig.uuid);
        for (const w of waiters) w(next);
      }
    }
  }

  async initGroup(groupUUID: string, taskUUIDs: readonly string[]): Promise<void> {
    this.assertOpen();
    const meta: GroupMeta = {
      groupUUID,
      taskUUIDs: [...taskUUIDs],
      chordTriggered: false,
      lock: false,
      createdAt: new Date(),
      ttl: 0,
    };
    this.write(groupUUID, encodeGroupMeta(meta));
  }

  async getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined> {
    this.assertOpen();
    const json = this.store.read(groupUUID);
    return json === undefined ? undefined : decodeGroupMeta(json);
  }

  private requireMeta(groupUUID: string): GroupMeta {
    const json = this.store.read(groupUUID);
    if (json === undefined) {
      throw new MachineryError('ERR_NOT_FOUND', `Group ${groupUUID} is unknown or its metadata expired.`);
    }
    return decodeGroupMeta(json);
  }

  async groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean> {
    const states = await this.groupTaskStates(groupUUID, groupTaskCount);
    return states.length >= groupTaskCount && states.every((s) => isCompleted(s.state));
  }

  async groupTaskStates(groupUUID: string, _groupTaskCount: number): Promise<TaskState[]> {
    this.assertOpen();
    const meta = this.requireMeta(groupUUID);
    const out: TaskState[] = [];
    for (const uuid of meta.taskUUIDs) {
      const json = this.store.read(uuid);
      if (json !== undefined) out.push(decodeTaskState(json));
    }
    return out;
  }

  async triggerChord(groupUUID: string, by?: string): Promise<boolean> {
    this.assertOpen();
    // Single-threaded: read-check-write without an await in between is atomic.
    const meta = this.requireMeta(groupUUID);
    if (meta.chordTriggered) return by !== undefined && this.store.read(chordWinnerKey(groupUUID)) === by;
    meta.chordTriggered = true;
    // Kept beside the group (and expiring with it) so that the winner is recognised when it calls again.
    if (by !== undefined) this.write(chordWinnerKey(groupUUID), by);
    this.write(groupUUID, encodeGroupMeta(meta));
    return true;
  }

  async getState(taskUUID: string): Promise<TaskState | undefined> {
    this.assertOpen();
    const json = this.store.read(taskUUID);
    return json === undefined ? undefined : decodeTaskState(json);
  }

  waitForState(taskUUID: string, signal: AbortSignal): Promise<TaskState> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const json = this.store.read(taskUUID);
      if (json !== undefined) {
        const s = decodeTaskState(json);
        if (isCompleted(s.state)) return resolve(s);
      }
      let set = this.store.waiters.get(taskUUID);
      if (!set) {
        set = new Set();
        this.store.waiters.set(taskUUID, set);
      }
      const waiter = (s: TaskState) => {
        signal.removeEventListener('abort', onAbort);
        resolve(s);
      };
      const onAbort = () => {
        set.delete(waiter);
        reject(signal.reason);
      };
      set.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async purgeState(taskUUID: string): Promise<void> {
    this.assertOpen();
    this.store.entries.delete(taskUUID);
  }

  async purgeGroupMeta(groupUUID: string): Promise<void> {
    this.assertOpen();
    this.store.entries.delete(groupUUID);
    this.store.entries.delete(chordWinnerKey(groupUUID));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
