import type { Backend } from './backend.js';
import { BlockedLoopMonitor } from './blocked-loop-monitor.js';
import type { Broker, Consumer, Delivery } from './broker.js';
import { WorkerControl } from './control/worker-control.js';
import { DeliveryPipeline } from './delivery-pipeline.js';
import { errorText, MachineryError } from './errors.js';
import { TypedEmitter } from './events.js';
import { flowTaskMiddleware } from './flow/flow-middleware.js';
import { childLogger, type Logger, resolveLogger } from './logger.js';
import type { TaskMiddleware } from './middleware.js';
import { fibonacciRetry } from './retry.js';
import { RunningTasks } from './running-tasks.js';
import { type Signature, taskUUID } from './signature.js';
import { TaskRun } from './task-run.js';
import { ThreadPool } from './thread-pool/thread-pool.js';
import type { WorkerEventSink, WorkerEvents } from './worker-events.js';
import type { WorkerDependencies, WorkerOptions } from './worker-options.js';

type Phase = 'idle' | 'starting' | 'running' | 'stopping';

/**
 * Consumes one queue and runs registered tasks with bounded concurrency: its lifecycle (start, stop,
 * signals), its slots and its buffer of prefetched deliveries. What happens to one delivery — checks,
 * middleware, the run, the stored outcome, callbacks, the acknowledgement — is the
 * {@link DeliveryPipeline}'s. A task is acknowledged only after its outcome is stored, so a crash at
 * any point redelivers it instead of losing it.
 *
 * Create one with `server.worker(options)`.
 */
export class Worker extends TypedEmitter<WorkerEvents> {
  /** The queue this worker consumes. */
  readonly queue: string;
  /** Tasks run at once. */
  readonly concurrency: number;
  private readonly broker: Broker;
  private readonly backend: Backend | undefined;
  private readonly logger: Logger;
  private readonly pipeline: DeliveryPipeline;
  private readonly prefetch: number;
  private readonly shutdownTimeoutMs: number;
  private readonly handleSignals: boolean;
  private readonly backendCheckTimeoutMs: number;
  private readonly closeOnSignal: (() => Promise<void>) | undefined;
  private phase: Phase = 'idle';
  private consumer: Consumer | undefined;
  private readonly buffer: Delivery[] = [];
  private readonly running = new RunningTasks();
  /** Resolves `stop()`'s wait once no task runs. */
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  private signalsSeen = 0;
  /** Present only with a control plane: revocations, pauses, heartbeats, events, progress. */
  private readonly control: WorkerControl | undefined;
  /** Fetching is paused (`pause()`); running tasks go on. */
  private paused = false;
  /** Pauses and resumes, applied one after the other. */
  private fetching: Promise<void> = Promise.resolve();
  /** Runs the tasks when the worker has a thread pool (`pool` option). */
  private readonly pool: ThreadPool | undefined;
  /** Without a pool: tells which tasks held the event loop too long. */
  private readonly loopMonitor: BlockedLoopMonitor | undefined;
  /** Tasks already warned about, so that a task is named once however often it blocks. */
  private readonly warnedBlocked = new WeakSet<TaskRun>();
  /**
   * With the monitor: tasks that ended since its last tick and lasted at least its threshold. A
   * synchronous task blocks the loop and ends before any timer runs, so the tick that notices the block
   * finds it here, not among the running. A shorter task cannot have blocked the loop that long, and
   * keeping every ended task until the tick (up to a second's worth at thousands per second) made them
   * outlive young-generation collections: promoted garbage, page faults and a larger heap.
   */
  private readonly endedSinceTick: TaskRun[] = [];

  constructor(dependencies: WorkerDependencies, options: WorkerOptions = {}) {
    super();
    this.broker = dependencies.broker;
    this.queue = options.queue ?? this.broker.defaultQueue;
    this.logger = childLogger(resolveLogger(options.logger ?? dependencies.logger), {
      component: 'worker',
      queue: this.queue,
    });
    this.pool = options.pool === undefined ? undefined : new ThreadPool(options.pool, this.logger);
    const concurrency = options.concurrency ?? (this.pool ? 2 * this.pool.size : 10);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `Worker concurrency must be an integer ≥ 1, got ${concurrency}.`,
      );
    }
    this.concurrency = concurrency;
    this.backend = dependencies.backend;
    this.closeOnSignal = dependencies.closeOnSignal;
    this.prefetch = options.prefetch ?? 1;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.handleSignals = options.handleSignals ?? true;
    this.backendCheckTimeoutMs = options.backendCheckTimeoutMs ?? 5000;
    const leaseMs = this.broker.capabilities.leaseMs;
    const blockedMs = options.blockedLoopWarningMs ?? (leaseMs === undefined ? 0 : Math.floor(leaseMs / 3));
    if (this.pool === undefined && blockedMs > 0) {
      this.loopMonitor = new BlockedLoopMonitor(
        blockedMs,
        (ms) => this.warnBlocked(ms, blockedMs),
        () => {
          this.endedSinceTick.length = 0;
        },
      );
    }
    const events: WorkerEventSink = {
      hasListeners: (event) => this.hasListeners(event),
      emit: (event, payload) => this.emit(event, payload),
      reportError: (error, signature) => this.reportError(error, signature),
    };
    if (dependencies.control !== undefined) {
      this.control = new WorkerControl(
        {
          queue: this.queue,
          concurrency,
          logger: this.logger,
          taskNames: () => dependencies.tasks.names(),
          on: (event, listener) => this.on(event, listener),
          pause: () => this.pause(),
          resume: () => this.resume(),
          reportError: (error) => this.reportError(error),
        },
        dependencies.control,
        dependencies.controlOptions,
      );
    }
    this.pipeline = new DeliveryPipeline({
      tasks: dependencies.tasks,
      backend: dependencies.backend,
      sender: dependencies.sender,
      broker: this.broker,
      middleware: this.middlewareOf(dependencies),
      logger: this.logger,
      events,
      retry: options.retry ?? fibonacciRetry,
      timeoutMs: options.timeoutMs,
      progressStates: options.progressStates ?? 'started',
      skipCompletedRedeliveries: options.skipCompletedRedeliveries ?? true,
      unregisteredTaskRequeues: options.unregisteredTaskRequeues ?? 50,
      executor: this.pool,
    });
  }

  /**
   * The worker middleware, outermost first: revocation (a revoked task never waits for a limit), flow
   * control (only with rate or concurrency stores), then the server's.
   */
  private middlewareOf(dependencies: WorkerDependencies): readonly TaskMiddleware[] | undefined {
    const flow = dependencies.flow;
    const builtIn: TaskMiddleware[] = [];
    if (this.control) builtIn.push(this.control.middleware);
    if (flow?.rateLimits !== undefined || flow?.concurrency !== undefined) {
      builtIn.push(flowTaskMiddleware(flow, (error, signature) => this.reportError(error, signature)));
    }
    return builtIn.length === 0 ? dependencies.middleware : [...builtIn, ...(dependencies.middleware ?? [])];
  }

  /** Tasks currently held in a slot (running, or having their outcome stored). */
  get activeCount(): number {
    return this.running.size;
  }

  /** True from `start()` until `stop()` begins. */
  get isRunning(): boolean {
    return this.phase === 'running' || this.phase === 'starting';
  }

  /**
   * Starts consuming, once the result backend answered a test read. Resolves once the broker delivers
   * to this worker. Calling it while running is a no-op; a stopped worker can be started again.
   * @throws MachineryError `ERR_CONNECTION` when the backend does not answer within
   * `backendCheckTimeoutMs`; the broker's error when consuming cannot start.
   */
  async start(): Promise<void> {
    if (this.phase === 'stopping') await this.stopping;
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    let consumer: Consumer | undefined;
    try {
      await this.checkBackend();
      await this.pool?.start();
      // Before fetching: a worker of a paused queue starts paused.
      await this.control?.attach();
      if (!this.paused) consumer = await this.consume();
      if (consumer !== undefined && this.paused) {
        // Paused while the consumer was starting.
        await consumer.stop();
        consumer = undefined;
      }
    } catch (err) {
      if (this.phase === 'starting') this.phase = 'idle';
      await this.control?.detach();
      await this.pool?.close();
      throw err;
    }
    if (this.phase !== 'starting') {
      // stop() was called while starting: deliveries meanwhile were handed back by onDelivery.
      await consumer?.stop();
      await this.pool?.close();
      return;
    }
    this.consumer = consumer;
    this.phase = 'running';
    this.loopMonitor?.start();
    if (this.handleSignals) this.installSignals();
    this.logger.info({ concurrency: this.concurrency }, 'worker started');
  }

  /** True while fetching is paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Stops fetching and hands back to the broker what was fetched but not started; running tasks go
   * on. A paused worker that is stopped and started again stays paused until {@link resume}. With a
   * control plane, the worker pauses and resumes with its queue by itself (the stored state wins at
   * `start()`).
   */
  pause(): Promise<void> {
    this.fetching = this.fetching.then(async () => {
      if (this.paused) return;
      this.paused = true;
      const consumer = this.consumer;
      this.consumer = undefined;
      try {
        await consumer?.stop();
      } catch (err) {
        this.reportError(err);
      }
      await this.handBackBuffered();
    });
    return this.fetching;
  }

  /** Fetches again after {@link pause} (a stopped worker fetches once started). */
  resume(): Promise<void> {
    this.fetching = this.fetching.then(async () => {
      if (!this.paused) return;
      this.paused = false;
      if (this.phase !== 'running') return;
      try {
        const consumer = await this.consume();
        // stop() began meanwhile and found no consumer to stop.
        if (this.phase === 'running') this.consumer = consumer;
        else await consumer.stop();
      } catch (err) {
        this.reportError(err);
      }
    });
    return this.fetching;
  }

  private consume(): Promise<Consumer> {
    return this.broker.consume(this.queue, (delivery) => this.onDelivery(delivery), {
      concurrency: this.concurrency,
      prefetch: this.prefetch,
    });
  }

  private async handBackBuffered(): Promise<void> {
    const unstarted = this.buffer.splice(0);
    await Promise.all(unstarted.map((d) => d.nack({ requeue: true }).catch((err) => this.reportError(err))));
  }

  /**
   * Stops fetching, returns fetched-but-unstarted deliveries to the broker, waits up to `timeoutMs`
   * (default `shutdownTimeoutMs`) for running tasks, then aborts them (they go back to the broker).
   * Idempotent.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.phase === 'idle') return Promise.resolve();
    this.stopping ??= this.halt(options.timeoutMs ?? this.shutdownTimeoutMs).finally(() => {
      this.stopping = undefined;
      this.phase = 'idle';
      this.removeSignals();
      this.emit('stopped', undefined);
    });
    return this.stopping;
  }

  private async checkBackend(): Promise<void> {
    const backend = this.backend;
    if (!backend) return;
    const timeoutMs = this.backendCheckTimeoutMs;
    // A random id: reading it touches nothing, and any answer — even "no such task" — proves a round trip.
    const probe = backend.getState(taskUUID()).then(() => 'answered' as const);
    // A failure arriving after the timeout has nobody left to tell.
    probe.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const advice =
      'Outcomes could not be stored, so no task is taken. Check that the result backend is running and reachable' +
      ' (or raise the worker option backendCheckTimeoutMs).';
    let answer: 'answered' | 'timeout';
    try {
      answer = await Promise.race([probe, timedOut]);
    } catch (err) {
      throw new MachineryError(
        'ERR_CONNECTION',
        `The worker cannot start: the result backend failed a test read: ${errorText(err)}. ${advice}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
    if (answer === 'timeout') {
      throw new MachineryError(
        'ERR_CONNECTION',
        `The worker cannot start: the result backend did not answer a test read within ${timeoutMs} ms. ${advice}`,
      );
    }
  }

  private async halt(timeoutMs: number): Promise<void> {
    this.phase = 'stopping';
    try {
      await this.consumer?.stop();
    } catch (err) {
      this.reportError(err);
    }
    this.consumer = undefined;
    await this.handBackBuffered();
    if (this.running.size > 0) {
      const idle = new Promise<void>((resolve) => {
        this.idle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([idle, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.logger.warn({ running: this.running.size }, 'shutdown timeout: aborting running tasks');
        this.withdrawAll('worker stopped');
        // Aborted tasks settle promptly: the worker stops waiting for a task function the moment it
        // aborts it. Only a stuck backend or broker call can hold a slot now; its task is redelivered
        // after its lease.
        await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      }
      this.idle = undefined;
    }
    await this.pipeline.drain();
    this.loopMonitor?.stop();
    await this.pool?.close();
    await this.control?.detach();
    this.logger.info({}, 'worker stopped');
  }

  /** Gives every running task back to the broker: its function is aborted, its delivery requeued. */
  private withdrawAll(reason: string): void {
    for (const run of this.running) run.withdraw(new MachineryError('ERR_TASK_ABORTED', reason));
  }

  private installSignals(): void {
    this.signalsSeen = 0;
    this.signalHandler = (signal) => {
      this.signalsSeen++;
      if (this.signalsSeen === 1) {
        this.logger.warn({ signal }, 'signal received: stopping (send again to abort running tasks)');
        void this.stopOnSignal(signal);
      } else {
        this.withdrawAll('worker aborted by signal');
      }
    };
    process.on('SIGINT', this.signalHandler);
    process.on('SIGTERM', this.signalHandler);
  }

  private removeSignals(): void {
    if (!this.signalHandler) return;
    process.off('SIGINT', this.signalHandler);
    process.off('SIGTERM', this.signalHandler);
    this.signalHandler = undefined;
  }

  /**
   * Stops, then — when nothing else in the process handles `signal` — closes the server's adapters and
   * raises the signal again: without that the process would go on running on whatever connections and
   * timers stay open, and the signal would have done nothing visible.
   */
  private async stopOnSignal(signal: NodeJS.Signals): Promise<void> {
    await this.stop();
    if (process.listenerCount(signal) > 0) return;
    if (this.closeOnSignal) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.closeOnSignal(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.shutdownTimeoutMs);
          }),
        ]);
      } catch (err) {
        this.reportError(err);
      } finally {
        clearTimeout(timer);
      }
    }
    if (process.listenerCount(signal) > 0) return;
    process.kill(process.pid, signal);
  }

  /** The event loop was blocked `blockedMs` while tasks ran: names each of them, once per task. */
  private warnBlocked(blockedMs: number, thresholdMs: number): void {
    const suspects = [...this.endedSinceTick, ...this.running];
    for (const run of suspects) {
      if (this.warnedBlocked.has(run)) continue;
      this.warnedBlocked.add(run);
      const others =
        suspects.length > 1 ? ` (or one of the ${suspects.length - 1} tasks running beside it)` : '';
      this.logger.warn(
        { taskUUID: run.signature.uuid, taskName: run.signature.name, blockedMs, thresholdMs },
        `The event loop was blocked for ${blockedMs} ms while task "${run.signature.name}" ran${others}: longer than ${thresholdMs} ms (by default a third of the broker's lease), so its lease may expire and another worker run the task again, and no other task progressed meanwhile. Run CPU-bound tasks in the thread pool: server.worker({ pool: { module: new URL('./tasks.js', import.meta.url) } }).`,
      );
    }
  }

  private reportError(error: unknown, signature?: Signature): void {
    this.logger.error({ err: error, taskUUID: signature?.uuid, taskName: signature?.name }, errorText(error));
    const payload: WorkerEvents['error'] = signature ? { error, signature } : { error };
    this.emit('error', payload);
  }

  private onDelivery(delivery: Delivery): void {
    if (this.phase === 'stopping' || this.phase === 'idle' || this.paused) {
      delivery.nack({ requeue: true }).catch((err) => this.reportError(err));
      return;
    }
    if (this.running.size < this.concurrency) this.launch(delivery);
    else this.buffer.push(delivery);
  }

  private launch(delivery: Delivery): void {
    const run = new TaskRun(delivery, this.pipeline);
    this.running.add(run);
    void this.occupy(run);
  }

  /** Holds a slot while the pipeline handles `run`, then gives it to the next buffered delivery. */
  private async occupy(run: TaskRun): Promise<void> {
    const monitor = this.loopMonitor;
    const since = monitor === undefined ? 0 : performance.now();
    await this.pipeline.handle(run);
    this.running.delete(run);
    if (monitor !== undefined && performance.now() - since >= monitor.thresholdMs)
      this.endedSinceTick.push(run);
    const next = this.buffer.shift();
    if (next) this.launch(next);
    else if (this.running.size === 0) this.idle?.();
  }
}
