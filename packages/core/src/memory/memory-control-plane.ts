import type { ControlPlane } from '../control/control-plane.js';
import type { PauseStore } from '../control/pauses.js';
import type { ProgressStore, TaskProgress } from '../control/progress.js';
import type { Revocation, RevocationStore, RevokeOptions, Unsubscribe } from '../control/revocations.js';
import type { TaskEvent, TaskEventStream } from '../control/task-events.js';
import type { WorkerInfo, WorkerRegistry } from '../control/worker-registry.js';
import { MachineryError } from '../errors.js';

const DEFAULT_REVOCATION_TTL_MS = 3_600_000;

/**
 * The in-process "server" behind {@link MemoryControlPlane}; share it between instances of one process
 * as two connections to Redis would share keys.
 */
export class MemoryControlPlaneStore {
  /** @internal */ readonly revoked = new Map<string, { revocation: Revocation; until: number }>();
  /** @internal */ readonly revokeListeners = new Set<(r: readonly Revocation[]) => void>();
  /** @internal */ readonly paused = new Set<string>();
  /** @internal */ readonly pauseListeners = new Set<(queue: string, paused: boolean) => void>();
  /** @internal */ readonly workers = new Map<string, { info: WorkerInfo; until: number }>();
  /** @internal */ readonly eventListeners = new Set<(event: TaskEvent) => void>();
  /** @internal */ readonly progress = new Map<string, { progress: TaskProgress; until: number }>();
}

/** Options for {@link MemoryControlPlane}. */
export interface MemoryControlPlaneOptions {
  store?: MemoryControlPlaneStore;
}

/** Calls each listener on a later turn, as a remote notification would arrive; one failing does not stop the others. */
function announce<A extends unknown[]>(listeners: Iterable<(...args: A) => void>, ...args: A): void {
  for (const listener of [...listeners]) {
    queueMicrotask(() => {
      try {
        listener(...args);
      } catch {
        // A listener's failure is its own concern.
      }
    });
  }
}

/** JSON round trip, so that memory readers see what a remote store would hand back. */
function copied<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * An in-process control plane: for tests, the sample apps' embedded mode and single-process
 * deployments. Processes do not see each other's; use `RedisControlPlane` from
 * `@machinery/backend-redis` across processes.
 */
export class MemoryControlPlane implements ControlPlane {
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  private readonly subscriptions = new Set<() => void>();
  private closed = false;

  constructor(options: MemoryControlPlaneOptions = {}) {
    const store = options.store ?? new MemoryControlPlaneStore();
    const listen = <L>(set: Set<L>, listener: L): Unsubscribe => {
      this.assertOpen();
      set.add(listener);
      const remove = () => {
        set.delete(listener);
        this.subscriptions.delete(remove);
      };
      this.subscriptions.add(remove);
      return async () => remove();
    };

    this.revocations = {
      revoke: async (uuids: readonly string[], opts: RevokeOptions = {}) => {
        this.assertOpen();
        const now = Date.now();
        const until = now + (opts.ttlMs ?? DEFAULT_REVOCATION_TTL_MS);
        const revocations = uuids.map((uuid) => ({ uuid, reason: opts.reason ?? 'revoked', revokedAt: now }));
        for (const revocation of revocations) store.revoked.set(revocation.uuid, { revocation, until });
        announce(store.revokeListeners, revocations);
      },
      revoked: async (uuids: readonly string[]) => {
        this.assertOpen();
        const now = Date.now();
        return uuids.map((uuid) => {
          const entry = store.revoked.get(uuid);
          if (entry === undefined) return undefined;
          if (entry.until <= now) {
            store.revoked.delete(uuid);
            return undefined;
          }
          return entry.revocation;
        });
      },
      onRevoke: async (listener) => listen(store.revokeListeners, listener),
    };

    this.pauses = {
      pause: async (queue) => {
        this.assertOpen();
        store.paused.add(queue);
        announce(store.pauseListeners, queue, true);
      },
      resume: async (queue) => {
        this.assertOpen();
        store.paused.delete(queue);
        announce(store.pauseListeners, queue, false);
      },
      isPaused: async (queue) => {
        this.assertOpen();
        return store.paused.has(queue);
      },
      paused: async () => {
        this.assertOpen();
        return [...store.paused].sort();
      },
      onChange: async (listener) => listen(store.pauseListeners, listener),
    };

    this.workers = {
      heartbeat: async (info, ttlMs) => {
        this.assertOpen();
        store.workers.set(info.id, { info: copied(info), until: Date.now() + ttlMs });
      },
      remove: async (id) => {
        this.assertOpen();
        store.workers.delete(id);
      },
      list: async () => {
        this.assertOpen();
        const now = Date.now();
        const live: WorkerInfo[] = [];
        for (const [id, entry] of store.workers) {
          if (entry.until <= now) store.workers.delete(id);
          else live.push(copied(entry.info));
        }
        return live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
    };

    this.events = {
      publish: async (events) => {
        this.assertOpen();
        for (const event of events) announce(store.eventListeners, copied(event));
      },
      subscribe: async (listener) => listen(store.eventListeners, listener),
    };

    this.progress = {
      set: async (taskUUID, data, ttlMs) => {
        this.assertOpen();
        store.progress.set(taskUUID, {
          progress: { data: copied(data), at: Date.now() },
          until: Date.now() + ttlMs,
        });
      },
      get: async (taskUUID) => {
        this.assertOpen();
        const entry = store.progress.get(taskUUID);
        if (entry === undefined) return undefined;
        if (entry.until <= Date.now()) {
          store.progress.delete(taskUUID);
          return undefined;
        }
        return copied(entry.progress);
      },
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The memory control plane is closed.');
  }

  /** Removes this instance's listeners (the store stays for other instances). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const remove of [...this.subscriptions]) remove();
  }
}
