import { AsyncResult, ChainAsyncResult, ChordAsyncResult, GroupAsyncResult } from './async-result.js';
import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import { invalidArgument, MachineryError } from './errors.js';
import type { Lock } from './lock.js';
import { childLogger, type Logger, resolveLogger } from './logger.js';
import { MemoryLock } from './memory/memory-lock.js';
import { type Schedulable, type ScheduleHandle, Scheduler } from './scheduler.js';
import { type Signature, taskUUID } from './signature.js';
import type { TaskDefinition, TaskSignature } from './task.js';
import { Worker, type WorkerOptions } from './worker.js';
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
  /** Called before each task is published by `send` (Go's pre-publish handler); may modify it. */
  onBeforePublish?: (signature: Signature) => void | Promise<void>;
}

/** Options for sending groups and chords. */
export interface SendGroupOptions {
  /**
   * Publish at most this many members at once. Unset or 0 publishes all members in one bulk call,
   * which is all-or-none on brokers that declare `atomicBulkPublish`.
   */
  sendConcurrency?: number;
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
  private readonly tasks = new Map<string, TaskDefinition<never[], unknown>>();
  private readonly scheduler: Scheduler;
  private readonly workers = new Set<Worker>();
  private readonly onBeforePublish: ServerOptions['onBeforePublish'];
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    if (!options || typeof options.broker?.publish !== 'function') {
      throw invalidArgument('new Server() needs a broker, e.g. new Server({ broker: new MemoryBroker() }).');
    }
    this.broker = options.broker;
    this.backend = options.backend;
    this.lock = options.lock ?? new MemoryLock();
    this.logger = resolveLogger(options.logger);
    this.onBeforePublish = options.onBeforePublish;
    this.scheduler = new Scheduler(
      (t) => this.sendAny(t),
      this.lock,
      childLogger(this.logger, { component: 'scheduler' }),
    );
  }

  /**
   * Registers tasks by name so workers of this server can run them.
   * @throws MachineryError `ERR_TASK_ALREADY_REGISTERED` when another task already has the name.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any task signature is accepted here; types stay on the definition.
  register(...tasks: TaskDefinition<any, any>[]): this {
    for (const task of tasks) {
      const existing = this.tasks.get(task.name);
      if (existing && existing !== task) {
        throw new MachineryError(
          'ERR_TASK_ALREADY_REGISTERED',
          `A different task is already registered as "${task.name}".`,
        );
      }
      this.tasks.set(task.name, task);
    }
    return this;
  }

  /** The task registered under `name`, if any. */
  getTask(name: string): TaskDefinition<never[], unknown> | undefined {
    return this.tasks.get(name);
  }

  /** True when a task is registered under `name`. */
  isTaskRegistered(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Names of all registered tasks. */
  registeredTaskNames(): string[] {
    return [...this.tasks.keys()];
  }

  private prepare(sig: Signature): void {
    if (typeof sig?.name !== 'string' || sig.name === '') {
      throw invalidArgument('Cannot send a signature without a task name.');
    }
    if (sig.uuid === '') sig.uuid = taskUUID();
    // Go's SendTask always leaves Headers as {} (its tracing injection), never null.
    if (sig.headers === null) sig.headers = {};
  }

  private async beforePublish(sig: Signature): Promise<void> {
    if (this.onBeforePublish) await this.onBeforePublish(sig);
  }

  /**
   * Sends one task: stores `PENDING` (when a backend is set), then publishes it.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid signature, `ERR_PAYLOAD_TOO_LARGE`,
   * or the broker's/backend's error when either is unreachable (the task is then not sent).
   */
  async send<R>(sig: TaskSignature<R>): Promise<AsyncResult<R>> {
    this.prepare(sig);
    await this.beforePublish(sig);
    if (this.backend) await this.backend.setStatePending(sig);
    await this.broker.publish(sig);
    return new AsyncResult<R>(sig.uuid, sig.name, this.backend);
  }

  /**
   * Sends many independent tasks in one bulk publish (all-or-none on brokers with `atomicBulkPublish`).
   */
  async sendMany<R>(sigs: readonly TaskSignature<R>[]): Promise<AsyncResult<R>[]> {
    for (const sig of sigs) {
      this.prepare(sig);
      await this.beforePublish(sig);
    }
    if (this.backend) {
      const backend = this.backend;
      await Promise.all(sigs.map((s) => backend.setStatePending(s)));
    }
    await this.broker.publishMany(sigs);
    return sigs.map((s) => new AsyncResult<R>(s.uuid, s.name, this.backend));
  }

  /** Sends a group: records its members, stores `PENDING` for each, publishes them. */
  async sendGroup<R>(g: Group<R>, options: SendGroupOptions = {}): Promise<GroupAsyncResult<R>> {
    const backend = this.backend;
    for (const sig of g.tasks) this.prepare(sig);
    if (backend) {
      await backend.initGroup(
        g.groupUUID,
        g.tasks.map((t) => t.uuid),
      );
      await Promise.all(g.tasks.map((t) => backend.setStatePending(t)));
    }
    const limit = options.sendConcurrency ?? 0;
    if (limit <= 0) {
      await this.broker.publishMany(g.tasks);
    } else {
      let next = 0;
      const lanes = Array.from({ length: Math.min(limit, g.tasks.length) }, async () => {
        while (next < g.tasks.length) await this.broker.publish(g.tasks[next++] as Signature);
      });
      await Promise.all(lanes);
    }
    return new GroupAsyncResult<R>(
      g.groupUUID,
      g.tasks.map((t) => new AsyncResult<R>(t.uuid, t.name, backend)),
    );
  }

  /** Sends a chain: publishes its first link, which carries the rest in `onSuccess`. */
  async sendChain<R>(c: Chain<R>): Promise<ChainAsyncResult<R>> {
    const [first] = c.tasks;
    await this.send(first as Signature);
    return new ChainAsyncResult<R>(c.tasks.map((t) => new AsyncResult(t.uuid, t.name, this.backend)));
  }

  /**
   * Sends a chord: its group, whose members trigger the callback once all have succeeded.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` without a backend (chords need one).
   */
  async sendChord<R>(c: Chord<R>, options: SendGroupOptions = {}): Promise<ChordAsyncResult<R>> {
    if (!this.backend) {
      throw invalidArgument(
        'Chords need a result backend to know when the group is complete. Pass one to new Server().',
      );
    }
    if (c.callback.headers === null) c.callback.headers = {};
    const groupResult = await this.sendGroup(c.group, options);
    return new ChordAsyncResult<R>(
      groupResult,
      new AsyncResult<R>(c.callback.uuid, c.callback.name, this.backend),
    );
  }

  private async sendAny(target: Schedulable): Promise<unknown> {
    if ('kind' in target) {
      if (target.kind === 'group') return this.sendGroup(target);
      if (target.kind === 'chain') return this.sendChain(target);
      return this.sendChord(target);
    }
    return this.send(target);
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

  /** Creates a worker for this server's tasks (call `start()` on it). */
  worker(options: WorkerOptions = {}): Worker {
    const worker = new Worker(this, options);
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
