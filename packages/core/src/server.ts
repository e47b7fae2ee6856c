import { AsyncResult, ChainAsyncResult, ChordAsyncResult, GroupAsyncResult } from './async-result.js';
import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import { type ControlOptions, type ControlPlane, scheduleRevocationId } from './control/control-plane.js';
import type { RevokeOptions } from './control/revocations.js';
import { revokeTasks } from './control/revoke.js';
import { TaskEventBuffer } from './control/task-event-buffer.js';
import { taskEvent } from './control/worker-control.js';
import { invalidArgument, MachineryError } from './errors.js';
import type { FlowControl } from './flow/flow-control.js';
import { checkFlowOptions } from './flow/flow-options.js';
import { uniqueClaimOf } from './flow/unique-claim.js';
import { uniquePublishMiddleware } from './flow/unique-middleware.js';
import type { Lock } from './lock.js';
import { childLogger, type Logger, resolveLogger } from './logger.js';
import { MemoryLock } from './memory/memory-lock.js';
import type { MiddlewareOptions, PublishMiddleware, PublishOrigin, TaskMiddleware } from './middleware.js';
import { type Schedulable, type ScheduleHandle, Scheduler } from './scheduler.js';
import { Sender, type SendGroupOptions } from './sender.js';
import type { Signature } from './signature.js';
import type { TaskDefinition, TaskSignature } from './task.js';
import { type AnyTaskDefinition, TaskRegistry } from './task-registry.js';
import { Worker } from './worker.js';
import type { WorkerOptions } from './worker-options.js';
import type { Chain, Chord, Group } from './workflow.js';

/** Options for {@link Server}. */
export interface ServerOptions {
  /** Where tasks are published and consumed. */
  broker: Broker;
  /** Where states and results are stored. Without one, results cannot be read and chords cannot run. */
  backend?: Backend;
  /** Guards periodic schedules across processes (default: an in-process `MemoryLock`). */
  lock?: Lock;
  /** pino-compatible logger (default: warnings and errors to stderr). */
  logger?: Logger;
  /**
   * Middleware, each list outermost first: `publish` wraps every publication (sends, schedules, and
   * the callbacks and retries of this server's workers), `task` wraps every task execution on this
   * server's workers.
   */
  middleware?: MiddlewareOptions;
  /**
   * The control plane (revocations, paused queues, live workers, task events, stored progress), e.g.
   * `RedisControlPlane` from `@machinery/backend-redis` or `MemoryControlPlane`. Without one, none of
   * these exist and a worker pays nothing for them. The server closes it in `close()`.
   */
  control?: ControlPlane;
  /** How workers and producers use `control` (heartbeat period, events, progress throttling). */
  controlOptions?: ControlOptions;
  /**
   * Flow control: where tasks' `rateLimit`s and `concurrencyLimit`s are counted (by this server's
   * workers) and `unique` keys claimed (by its sends), e.g. `RedisFlowControl` from
   * `@machinery/backend-redis` or `MemoryFlowControl`. Without it, registering a task that declares a
   * limit and sending a unique task fail. The server closes it in `close()`.
   */
  flow?: FlowControl;
}

/**
 * The entry point: registers tasks, sends signatures, groups, chains and chords, schedules periodic
 * tasks, and creates workers. Composed from a broker, a backend and a lock (constructor injection).
 *
 * @example
 * ```ts
 * const server = new Server({ broker: new MemoryBroker(), backend: new MemoryBackend() })
 * const add = defineTask('add', (a: number, b: number) => a + b)
 * server.register(add)
 * await server.worker({ concurrency: 4 }).start()
 * console.log(await (await server.send(add.signature(1, 2))).get()) // 3
 * ```
 */
export class Server {
  /** The broker tasks are published to and consumed from. */
  readonly broker: Broker;
  /** The result backend, if one was given. */
  readonly backend: Backend | undefined;
  /** The lock periodic schedules take per tick (an in-process `MemoryLock` unless one was given). */
  readonly lock: Lock;
  /** The server's logger; workers and the scheduler log through children of it. */
  readonly logger: Logger;
  /** The control plane, if one was given. */
  readonly control: ControlPlane | undefined;
  private readonly controlOptions: ControlOptions | undefined;
  /** Flow control, if given. */
  readonly flow: FlowControl | undefined;
  /** `sent` events on their way to the control plane's stream. */
  private readonly sentEvents: TaskEventBuffer | undefined;
  private readonly tasks = new TaskRegistry();
  private readonly sender: Sender;
  private readonly taskMiddleware: readonly TaskMiddleware[] | undefined;
  private readonly scheduler: Scheduler;
  private readonly workers = new Set<Worker>();
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    if (!options || typeof options.broker?.publish !== 'function') {
      throw invalidArgument('new Server() needs a broker, e.g. new Server({ broker: new MemoryBroker() }).');
    }
    this.broker = options.broker;
    this.backend = options.backend;
    this.lock = options.lock ?? new MemoryLock();
    this.logger = resolveLogger(options.logger);
    this.control = options.control;
    this.controlOptions = options.controlOptions;
    this.flow = options.flow;
    let publish = options.middleware?.publish;
    // Outermost, so that a duplicate meets no other middleware.
    if (this.flow?.unique !== undefined)
      publish = [uniquePublishMiddleware(this.flow.unique), ...(publish ?? [])];
    if (this.control !== undefined && options.controlOptions?.events !== false) {
      const buffer = new TaskEventBuffer(
        this.control.events,
        options.controlOptions?.maxBufferedEvents ?? 10_000,
        (err) => this.logger.error({ err }, 'task events could not be published'),
      );
      this.sentEvents = buffer;
      // Innermost, so that `sent` means published.
      const announceSent: PublishMiddleware = async (context, next) => {
        await next();
        buffer.push(taskEvent('sent', context.signature, {}));
      };
      publish = [...(publish ?? []), announceSent];
    }
    this.sender = new Sender({
      broker: this.broker,
      backend: this.backend,
      logger: this.logger,
      middleware: publish,
    });
    this.taskMiddleware = options.middleware?.task;
    this.scheduler = new Scheduler(
      (target) => this.sendTarget(target, 'schedule'),
      this.lock,
      childLogger(this.logger, { component: 'scheduler' }),
      this.control === undefined ? undefined : (name) => this.scheduleRevoked(name),
    );
  }

  /**
   * Registers tasks by name so workers of this server can run them (also workers already running).
   * @throws MachineryError `ERR_TASK_ALREADY_REGISTERED` when another task already has the name.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any task signature is accepted here; types stay on the definition.
  register(...tasks: TaskDefinition<any, any>[]): this {
    for (const task of tasks) checkFlowOptions(task, this.flow);
    this.tasks.add(...tasks);
    return this;
  }

  /** The task registered under `name`, if any. */
  getTask(name: string): AnyTaskDefinition | undefined {
    return this.tasks.get(name);
  }

  /** True when a task is registered under `name`. */
  isTaskRegistered(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Names of all registered tasks, in registration order. */
  registeredTaskNames(): string[] {
    return this.tasks.names();
  }

  /**
   * Sends one task: publish middleware, then `PENDING` stored (when a backend is set), then published.
   * A publish middleware that drops the task leaves the result without a state: it never completes.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid signature, `ERR_PAYLOAD_TOO_LARGE`,
   * a publish middleware's error, or the broker's/backend's error when either is unreachable (the task
   * is then not sent).
   */
  async send<R>(signature: TaskSignature<R>): Promise<AsyncResult<R>> {
    this.checkUnique(signature);
    await this.sender.send(signature, 'send');
    return new AsyncResult<R>(signature.uuid, signature.name, this.backend, this.control?.progress);
  }

  /**
   * Sends many independent tasks in one bulk publish (all-or-none on brokers with `atomicBulkPublish`);
   * nothing is published when a publish middleware throws for any of them.
   */
  async sendMany<R>(signatures: readonly TaskSignature<R>[]): Promise<AsyncResult<R>[]> {
    for (const signature of signatures) this.checkUnique(signature);
    await this.sender.sendMany(signatures, 'send');
    return signatures.map((s) => new AsyncResult<R>(s.uuid, s.name, this.backend, this.control?.progress));
  }

  /**
   * Sends a group: records its members, stores `PENDING` for each, publishes them.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` when a publish middleware drops a member (a group is
   * sent whole or not at all).
   */
  async sendGroup<R>(group: Group<R>, options: SendGroupOptions = {}): Promise<GroupAsyncResult<R>> {
    return this.sendGroupFrom(group, options, 'send');
  }

  /** Sends a chain: publishes its first link, which carries the rest in `onSuccess`. */
  async sendChain<R>(chain: Chain<R>): Promise<ChainAsyncResult<R>> {
    return this.sendChainFrom(chain, 'send');
  }

  /**
   * Sends a chord: its group, whose members trigger the callback once all have succeeded.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a backend (chords need one).
   */
  async sendChord<R>(chord: Chord<R>, options: SendGroupOptions = {}): Promise<ChordAsyncResult<R>> {
    return this.sendChordFrom(chord, options, 'send');
  }

  private async sendGroupFrom<R>(
    group: Group<R>,
    options: SendGroupOptions,
    origin: PublishOrigin,
  ): Promise<GroupAsyncResult<R>> {
    await this.sender.sendGroup(group, options, origin);
    return new GroupAsyncResult<R>(
      group.groupUUID,
      group.tasks.map((t) => new AsyncResult<R>(t.uuid, t.name, this.backend, this.control?.progress)),
    );
  }

  private async sendChainFrom<R>(chain: Chain<R>, origin: PublishOrigin): Promise<ChainAsyncResult<R>> {
    const [first] = chain.tasks;
    await this.sender.send(first as Signature, origin);
    return new ChainAsyncResult<R>(
      chain.tasks.map((t) => new AsyncResult(t.uuid, t.name, this.backend, this.control?.progress)),
    );
  }

  private async sendChordFrom<R>(
    chord: Chord<R>,
    options: SendGroupOptions,
    origin: PublishOrigin,
  ): Promise<ChordAsyncResult<R>> {
    if (!this.backend) {
      throw invalidArgument(
        'Chords need a result backend to know when the group is complete. Pass one to new Server().',
      );
    }
    if (chord.callback.headers === null) chord.callback.headers = {};
    const groupResult = await this.sendGroupFrom(chord.group, options, origin);
    return new ChordAsyncResult<R>(
      groupResult,
      new AsyncResult<R>(chord.callback.uuid, chord.callback.name, this.backend, this.control?.progress),
    );
  }

  private async sendTarget(target: Schedulable, origin: PublishOrigin): Promise<unknown> {
    if ('kind' in target) {
      if (target.kind === 'group') return this.sendGroupFrom(target, {}, origin);
      if (target.kind === 'chain') return this.sendChainFrom(target, origin);
      return this.sendChordFrom(target, {}, origin);
    }
    await this.sender.send(target, origin);
    return new AsyncResult(target.uuid, target.name, this.backend, this.control?.progress);
  }

  /** The result of a task by its UUID. */
  result<R = unknown>(uuid: string, taskName = ''): AsyncResult<R> {
    return new AsyncResult<R>(uuid, taskName, this.backend, this.control?.progress);
  }

  /**
   * The results of a group from its UUID alone (reads the stored GroupMeta).
   * @throws MachineryError `ERR_NOT_FOUND` when the group is unknown or expired.
   */
  async groupResult<R = unknown>(groupUUID: string): Promise<GroupAsyncResult<R>> {
    const meta = await this.backend?.getGroupMeta(groupUUID);
    if (!meta)
      throw new MachineryError('ERR_NOT_FOUND', `Group ${groupUUID} is unknown or its metadata expired.`);
    return new GroupAsyncResult<R>(
      groupUUID,
      meta.taskUUIDs.map((u) => new AsyncResult<R>(u, '', this.backend, this.control?.progress)),
    );
  }

  /** The result of a chord from its group UUID and callback UUID. */
  async chordResult<R = unknown>(groupUUID: string, callbackUUID: string): Promise<ChordAsyncResult<R>> {
    return new ChordAsyncResult<R>(
      await this.groupResult(groupUUID),
      new AsyncResult<R>(callbackUUID, '', this.backend, this.control?.progress),
    );
  }

  /**
   * Sends `target` periodically: 5-field cron (`"*\/5 * * * *"`), descriptors (`@hourly`) or
   * `@every 10s`. Each tick takes the server's lock, so with a shared lock exactly one process sends it.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid spec or a duplicate name.
   */
  schedule(spec: string, name: string, target: Schedulable): ScheduleHandle {
    return this.scheduler.add(spec, name, target);
  }

  /** Removes a periodic schedule; returns whether it existed. */
  unschedule(name: string): boolean {
    return this.scheduler.remove(name);
  }

  /**
   * Revokes tasks by UUID in every process sharing the control plane: a group or chord UUID revokes
   * its members, a waiting task is marked `FAILURE` at once, a worker never starts a revoked task and
   * aborts a running one (its `AbortSignal` fires; it ends in `FAILURE` "… was revoked: <reason>"). The
   * revocation is kept for `ttlMs` (default one hour, the default result lifetime). Resolves with every
   * UUID revoked.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a control plane.
   */
  revoke(uuids: string | readonly string[], options: RevokeOptions = {}): Promise<string[]> {
    return revokeTasks(
      { control: this.requireControl('revoke tasks'), backend: this.backend },
      typeof uuids === 'string' ? [uuids] : uuids,
      options,
    );
  }

  /**
   * Revokes the periodic schedule `name` in every process sharing the control plane, for `ttlMs`
   * (default one hour): each process checks before it fires and removes the schedule.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a control plane.
   */
  async revokeSchedule(name: string, options: RevokeOptions = {}): Promise<void> {
    await this.requireControl('revoke schedules').revocations.revoke([scheduleRevocationId(name)], options);
    this.unschedule(name);
  }

  /**
   * Pauses `queue` for every worker sharing the control plane: they stop fetching within a second and
   * hand back what they fetched; producers keep sending. Lasts until {@link resume}.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a control plane.
   */
  pause(queue: string = this.broker.defaultQueue): Promise<void> {
    return this.requireControl('pause queues').pauses.pause(queue);
  }

  /**
   * Resumes `queue` for every worker sharing the control plane.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a control plane.
   */
  resume(queue: string = this.broker.defaultQueue): Promise<void> {
    return this.requireControl('resume queues').pauses.resume(queue);
  }

  /** A unique task sent without a store to claim its key in would be sent twice: refuse it. */
  private checkUnique(signature: Signature): void {
    if (this.flow?.unique === undefined && uniqueClaimOf(signature) !== undefined) {
      throw invalidArgument(
        `Task "${signature.name}" is unique but the server has no flow.unique store to claim its key in; pass one to new Server({ flow }), e.g. new RedisFlowControl() from @machinery/backend-redis.`,
      );
    }
  }

  private requireControl(what: string): ControlPlane {
    if (this.control === undefined) {
      throw invalidArgument(
        `A control plane is needed to ${what}. Pass one to new Server({ control }), e.g. new RedisControlPlane() from @machinery/backend-redis.`,
      );
    }
    return this.control;
  }

  private async scheduleRevoked(name: string): Promise<boolean> {
    const [revocation] = await (this.control as ControlPlane).revocations.revoked([
      scheduleRevocationId(name),
    ]);
    return revocation !== undefined;
  }

  /**
   * Creates a worker for this server's tasks, middleware and adapters (call `start()` on it). With
   * `handleSignals`, a signal that stops it also closes this server when nothing else handles it.
   */
  worker(options: WorkerOptions = {}): Worker {
    const worker = new Worker(
      {
        broker: this.broker,
        backend: this.backend,
        tasks: this.tasks,
        sender: this.sender,
        logger: this.logger,
        middleware: this.taskMiddleware,
        control: this.control,
        controlOptions: this.controlOptions,
        flow: this.flow,
        closeOnSignal: () => this.close(),
      },
      options,
    );
    this.workers.add(worker);
    return worker;
  }

  /**
   * Resolves once the `sent` events of every task sent so far reached the control plane's event
   * stream (they leave in batches, in the background). For a short-lived producer that closes its
   * connections itself instead of calling {@link close}, which does this too.
   */
  async flushEvents(): Promise<void> {
    await this.sentEvents?.drain();
  }

  /**
   * Stops schedules and workers, then closes the broker, backend, lock and control plane this server
   * was given.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.scheduler.close();
      await Promise.all([...this.workers].map((w) => w.stop()));
      await this.sentEvents?.drain();
      await Promise.all([
        this.broker.close(),
        this.backend?.close(),
        this.lock.close(),
        this.control?.close(),
        this.flow?.close(),
      ]);
    })();
    return this.closing;
  }
}
