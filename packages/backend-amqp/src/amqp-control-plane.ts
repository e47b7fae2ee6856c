import { ConnectionManager } from '@machinery/amqp-connection';
import {
  type ControlPlane,
  childLogger,
  errorText,
  type Logger,
  MachineryError,
  type PauseStore,
  type ProgressStore,
  type Revocation,
  type RevocationStore,
  redactText,
  resolveLogger,
  type TaskEvent,
  type TaskEventStream,
  type Unsubscribe,
  type WorkerInfo,
  type WorkerRegistry,
} from '@machinery/core';
import { ControlChannels } from './control-channels.js';
import { encodeMessage, type Fact, type FactView, newId } from './control-facts.js';
import { ControlFeed } from './control-feed.js';
import { type ControlNames, controlNames, type LogKind, WORKER_LOOKBACK_MS } from './control-names.js';
import {
  type AmqpControlPlaneOptions,
  type ResolvedControlOptions,
  resolveControlOptions,
} from './control-options.js';
import { EventFollower } from './event-follower.js';
import { progressStore } from './progress-queues.js';

const DEFAULT_REVOCATION_TTL_MS = 3_600_000;
// Facts in force are looked at for rewriting this often at most (jittered), whatever the retention.
const MAX_REWRITE_CHECK_MS = 3_600_000;

function invalid(message: string): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', message);
}

function checkStrings(what: string, values: readonly unknown[]): void {
  if (values.some((v) => typeof v !== 'string' || v === ''))
    throw invalid(`${what} must be non-empty strings.`);
}

/**
 * The control plane on RabbitMQ (3.9 or later: it uses stream queues), shared by every process that
 * uses the same RabbitMQ (vhost) and prefix. RabbitMQ has no key-value store, so state is a log that
 * every process reads into a view of its own:
 * - revocations and pauses are facts written to the direct exchange `<prefix>machinery_control`
 *   (routing key `state`), which stores them in the stream `<prefix>machinery_control.state` and hands
 *   them to every process's live queue; a process reads the stream back `stateRetentionMs` when it
 *   starts and follows it; a read sends a mark through its live queue first, so it sees every write
 *   confirmed before it (read-your-writes across processes), then looks in memory;
 * - worker heartbeats likewise, with routing key `workers` and the stream `….workers` (read back 15 min);
 * - task events go to the stream `….events`, followed from its end by each subscriber;
 * - progress is one last-value queue per task, `….progress.<taskUUID>`.
 * The README explains the layout, the costs and the limits.
 *
 * @example
 * ```ts
 * const control = new AmqpControlPlane({ url: 'amqp://guest:guest@localhost:5672/' })
 * const server = new Server({ broker, backend, control })
 * await server.revoke(uuid)
 * ```
 */
export class AmqpControlPlane implements ControlPlane {
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  private readonly options: ResolvedControlOptions;
  private readonly logger: Logger;
  private readonly manager: ConnectionManager;
  private readonly channels: ControlChannels;
  private readonly names: ControlNames;
  private readonly feed: ControlFeed;
  private readonly revokeListeners = new Set<(r: readonly Revocation[]) => void>();
  private readonly pauseListeners = new Set<(queue: string, paused: boolean) => void>();
  private readonly followers = new Set<EventFollower>();
  private rewriteTimer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private closing: Promise<void> | undefined;

  /** @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option. */
  constructor(options: AmqpControlPlaneOptions = {}) {
    this.options = resolveControlOptions(options);
    this.logger = childLogger(resolveLogger(options.logger), { component: 'control-amqp' });
    this.names = controlNames(this.options.prefix);
    this.manager = new ConnectionManager({
      urls: this.options.urls,
      client: this.options.client,
      clientOptions: this.options.clientOptions,
      connectionName: this.options.connectionName,
      initialDelayMs: this.options.initialDelayMs,
      maxDelayMs: this.options.maxDelayMs,
      logger: this.logger,
      role: 'AMQP control plane',
    });
    this.channels = new ControlChannels(
      this.manager,
      this.names,
      this.options.stateRetentionMs,
      this.options.connectTimeoutMs,
      this.logger,
    );
    this.feed = new ControlFeed(this.channels, this.names, this.options.stateRetentionMs, this.logger, {
      onChanges: (kind, facts) => this.announce(kind, facts),
    });

    this.revocations = {
      revoke: async (uuids, opts = {}) => {
        this.assertOpen();
        checkStrings('The UUIDs to revoke', uuids);
        const ttlMs = opts.ttlMs ?? DEFAULT_REVOCATION_TTL_MS;
        if (!(ttlMs > 0) || !Number.isFinite(ttlMs))
          throw invalid(`revoke() option ttlMs must be a positive number of ms, got ${opts.ttlMs}.`);
        if (uuids.length === 0) return;
        const at = this.clock();
        const id = newId();
        const reason = opts.reason ?? 'revoked';
        const facts = uuids.map(
          (uuid): Fact => ({
            k: `r:${uuid}`,
            at,
            id,
            w: at,
            until: at + Math.ceil(ttlMs),
            v: { uuid, reason, revokedAt: at } satisfies Revocation,
          }),
        );
        await this.write('state', facts, 'revoking tasks');
      },
      revoked: async (uuids) => {
        this.assertOpen();
        if (uuids.length === 0) return [];
        const view = await this.stateView();
        const now = Date.now();
        return uuids.map((uuid) => view.get(`r:${uuid}`, now)?.v as Revocation | undefined);
      },
      onRevoke: async (listener) => {
        this.assertOpen();
        await this.followState();
        return this.listen(this.revokeListeners, listener);
      },
    };

    const setPaused = async (queue: string, paused: boolean) => {
      this.assertOpen();
      checkStrings('The queue to pause or resume', [queue]);
      const at = this.clock();
      const fact: Fact = paused
        ? { k: `p:${queue}`, at, id: newId(), w: at }
        : { k: `p:${queue}`, at, id: newId(), w: at, gone: true };
      await this.write('state', [fact], `${paused ? 'pausing' : 'resuming'} queue "${queue}"`);
    };
    this.pauses = {
      pause: (queue) => setPaused(queue, true),
      resume: (queue) => setPaused(queue, false),
      isPaused: async (queue) => {
        this.assertOpen();
        return (await this.stateView()).get(`p:${queue}`, Date.now()) !== undefined;
      },
      paused: async () => {
        this.assertOpen();
        const facts = (await this.stateView()).inForce('p:', Date.now());
        return facts.map((f) => f.k.slice(2)).sort();
      },
      onChange: async (listener) => {
        this.assertOpen();
        await this.followState();
        return this.listen(this.pauseListeners, listener);
      },
    };

    this.workers = {
      heartbeat: async (info, ttlMs) => {
        this.assertOpen();
        checkStrings('A worker id', [info?.id]);
        if (!(ttlMs > 0) || ttlMs > WORKER_LOOKBACK_MS) {
          throw invalid(
            `AmqpControlPlane reads heartbeats back ${WORKER_LOOKBACK_MS} ms: a heartbeat's ttlMs must be from 1 to ${WORKER_LOOKBACK_MS} (controlOptions.heartbeatMs up to ${WORKER_LOOKBACK_MS / 3}), got ${ttlMs}.`,
          );
        }
        const at = this.clock();
        const fact: Fact = {
          k: `w:${info.id}`,
          at,
          id: newId(),
          w: at,
          until: at + Math.ceil(ttlMs),
          v: info,
        };
        await this.write('workers', [fact], 'recording a worker heartbeat');
      },
      remove: async (id) => {
        this.assertOpen();
        const at = this.clock();
        await this.write(
          'workers',
          [{ k: `w:${id}`, at, id: newId(), w: at, gone: true }],
          'removing a worker',
        );
      },
      list: async () => {
        this.assertOpen();
        const view = await this.feed.sync('workers');
        const now = Date.now();
        view.prune(now, WORKER_LOOKBACK_MS);
        const infos = view.inForce('w:', now).map((f) => f.v as WorkerInfo);
        return infos.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
    };

    this.events = {
      publish: async (events) => {
        this.assertOpen();
        if (events.length === 0) return;
        const body = Buffer.from(JSON.stringify(events));
        await this.channels.run('publishing task events', async (link) => {
          await this.channels.ensure(link, 'events');
          await this.channels.publish(link, '', this.names.events, body);
        });
      },
      subscribe: async (listener) => {
        this.assertOpen();
        const follower = new EventFollower(this.channels, this.names.events, this.logger, (e: TaskEvent) =>
          listener(e),
        );
        this.followers.add(follower);
        try {
          await follower.start();
        } catch (err) {
          this.followers.delete(follower);
          throw err;
        }
        return async () => {
          this.followers.delete(follower);
          follower.stop();
        };
      },
    };

    const progress = progressStore(this.channels, this.names);
    this.progress = {
      set: async (taskUUID, data, ttlMs) => {
        this.assertOpen();
        checkStrings('A task UUID', [taskUUID]);
        if (!(ttlMs > 0) || !Number.isFinite(ttlMs))
          throw invalid(`progress.set() ttlMs must be a positive number of ms, got ${ttlMs}.`);
        await progress.set(taskUUID, data, ttlMs);
      },
      get: async (taskUUID) => {
        this.assertOpen();
        return progress.get(taskUUID);
      },
    };
  }

  /** True while a connection to RabbitMQ is open (for health checks; it reconnects by itself). */
  get isConnected(): boolean {
    return this.manager.live !== undefined;
  }

  private assertOpen(): void {
    if (this.closing !== undefined)
      throw new MachineryError('ERR_CLOSED', 'The AMQP control plane is closed.');
  }

  /** This process's clock, strictly increasing, so that its own decisions are ordered. */
  private clock(): number {
    this.lastAt = Math.max(Date.now(), this.lastAt + 1);
    return this.lastAt;
  }

  private write(kind: LogKind, facts: readonly Fact[], what: string): Promise<void> {
    const body = encodeMessage({ t: 'facts', facts });
    return this.channels.run(what, async (link) => {
      await this.channels.ensure(link, kind);
      await this.channels.publish(link, this.names.exchange, kind, body);
    });
  }

  private async stateView(): Promise<FactView> {
    const view = await this.feed.sync('state');
    this.scheduleRewrite();
    return view;
  }

  private async followState(): Promise<void> {
    await this.feed.follow('state');
    this.scheduleRewrite();
  }

  private listen<L>(set: Set<L>, listener: L): Unsubscribe {
    set.add(listener);
    return async () => {
      set.delete(listener);
    };
  }

  private announce(kind: LogKind, facts: readonly Fact[]): void {
    if (kind !== 'state') return;
    const revocations: Revocation[] = [];
    for (const fact of facts) {
      if (fact.k.startsWith('r:')) {
        if (fact.gone !== true) revocations.push(fact.v as Revocation);
        continue;
      }
      const queue = fact.k.slice(2);
      for (const listener of [...this.pauseListeners]) safely(() => listener(queue, fact.gone !== true));
    }
    if (revocations.length === 0) return;
    for (const listener of [...this.revokeListeners]) safely(() => listener(revocations));
  }

  /**
   * While this process watches the state log, rewrites now and then the facts still in force that a
   * process starting later would otherwise no longer read back (see {@link FactView.dueForRewrite}).
   */
  private scheduleRewrite(): void {
    if (this.rewriteTimer !== undefined || this.closing !== undefined) return;
    const period = Math.min(this.options.stateRetentionMs / 4, MAX_REWRITE_CHECK_MS);
    this.rewriteTimer = setTimeout(
      () => {
        void this.rewrite().finally(() => {
          this.rewriteTimer = undefined;
          this.scheduleRewrite();
        });
      },
      period * (0.75 + Math.random() / 2),
    );
    this.rewriteTimer.unref();
  }

  private async rewrite(): Promise<void> {
    try {
      const view = await this.feed.sync('state');
      const now = Date.now();
      const retention = this.options.stateRetentionMs;
      const due = view.dueForRewrite(now, retention);
      if (due.length > 0) {
        await this.write(
          'state',
          due.map((f) => ({ ...f, w: now })),
          'rewriting facts in force',
        );
      }
      view.prune(now, retention);
    } catch (err) {
      if (this.closing !== undefined) return;
      this.logger.warn(
        { err: redactText(errorText(err)) },
        'AMQP control plane: cannot rewrite facts in force',
      );
    }
  }

  /** Closes every channel and the connection (unless it was passed as `client`); idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.rewriteTimer);
      this.rewriteTimer = undefined;
      this.revokeListeners.clear();
      this.pauseListeners.clear();
      for (const follower of this.followers) follower.stop();
      this.followers.clear();
      this.feed.close();
      await this.channels.closeAll();
      await this.manager.close();
    })();
    return this.closing;
  }
}

/** Runs a listener; its failure is its own concern. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure must not stop the others.
  }
}
