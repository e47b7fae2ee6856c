import { AsyncResult, ChainAsyncResult, ChordAsyncResult, GroupAsyncResult } from './async-result.js';
import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import { invalidArgument, MachineryError } from './errors.js';
import type { Lock } from './lock.js';
import { childLogger, type Logger, resolveLogger } from './logger.js';
import { MemoryLock } from './memory/memory-lock.js';
import type { MiddlewareOptions, PublishOrigin, TaskMiddleware } from './middleware.js';
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
  readonly broker: Broker;
  readonly backend: Backend | undefined;
  readonly lock: Lock;
  readonly logger: Logger;
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
    this.sender = new Sender({
      broker: this.broker,
      backend: this.backend,
      logger: this.logger,
      middleware: options.middleware?.publish,
    });
    this.taskMiddleware = options.middleware?.task;
    this.scheduler = new Scheduler(
      (target) => this.sendTarget(target, 'schedule'),
      this.lock,
      childLogger(this.logger, { component: 'scheduler' }),
    );
  }

  /**
   * Registers tasks by name so workers of this server can run them (also workers already running).
   * @throws MachineryError `ERR_TASK_ALREADY_REGISTERED` when another task already has the name.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any task signature is accepted here; types stay on the definition.
  register(...tasks: TaskDefinition<any, any>[]): this {
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
    await this.sender.send(signature, 'send');
    return new AsyncResult<R>(signature.uuid, signature.name, this.backend);
  }

  /**
   * Sends many independent tasks in one bulk publish (all-or-none on brokers with `atomicBulkPublish`);
   * nothing is published when a publish middleware throws for any of them.
   */
  async sendMany<R>(signatures: readonly TaskSignature<R>[]): Promise<AsyncResult<R>[]> {
    await this.sender.sendMany(signatures, 'send');
    return signatures.map((s) => new AsyncResult<R>(s.uuid, s.name, this.backend));
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
      group.tasks.map((t) => new AsyncResult<R>(t.uuid, t.name, this.backend)),
    );
  }

  private async sendChainFrom<R>(chain: Chain<R>, origin: PublishOrigin): Promise<ChainAsyncResult<R>> {
    const [first] = chain.tasks;
    await this.sender.send(first as Signature, origin);
    return new ChainAsyncResult<R>(chain.tasks.map((t) => new AsyncResult(t.uuid, t.name, this.backend)));
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
      new AsyncResult<R>(chord.callback.uuid, chord.callback.name, this.backend),
    );
  }

  private async sendTarget(target: Schedulable, origin: PublishOrigin): Promise<unknown> {
    if ('kind' in target) {
      if (target.kind === 'group') return this.sendGroupFrom(target, {}, origin);
      if (target.kind === 'chain') return this.sendChainFrom(target, origin);
      return this.sendChordFrom(target, {}, origin);
    }
    await this.sender.send(target, origin);
    return new AsyncResult(target.uuid, target.name, this.backend);
  }

  /** The result of a task by its UUID. */
  result<R = unknown>(uuid: string, taskName = ''): AsyncResult<R> {
    return new AsyncResult<R>(uuid, taskName, this.backend);
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
      meta.taskUUIDs.map((u) => new AsyncResult<R>(u, '', this.backend)),
    );
  }

  /** The result of a chord from its group UUID and callback UUID. */
  async chordResult<R = unknown>(groupUUID: string, callbackUUID: string): Promise<ChordAsyncResult<R>> {
    return new ChordAsyncResult<R>(
      await this.groupResult(groupUUID),
      new AsyncResult<R>(callbackUUID, '', this.backend),
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
        closeOnSignal: () => this.close(),
      },
      options,
    );
    this.workers.add(worker);
    return worker;
  }

  /**
   * Stops schedules and workers, then closes the broker, backend and lock this server was given.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.scheduler.close();
      await Promise.all([...this.workers].map((w) => w.stop()));
      await Promise.all([this.broker.close(), this.backend?.close(), this.lock.close()]);
    })();
    return this.closing;
  }
}
