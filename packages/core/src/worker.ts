import { type Arg, argValue, isSupportedType, type TaskResult, toArg, toResult } from './arg.js';
import type { Consumer, Delivery } from './broker.js';
import { errorText, isMachineryError, MachineryError, RetryLater } from './errors.js';
import { TypedEmitter } from './events.js';
import { childLogger, type Logger, resolveLogger } from './logger.js';
import { fibonacciRetry, type RetryStrategy } from './retry.js';
import type { Server } from './server.js';
import { copySignature, type Signature } from './signature.js';
import { isCompleted, type TaskState, TaskStatus } from './state.js';
import { isTuple, type TaskDefinition } from './task.js';
import { TaskRun } from './task-run.js';

/** Payloads of the worker's typed events. */
export interface WorkerEvents {
  [event: string]: unknown;
  /** A delivery was accepted for a registered task. */
  received: { signature: Signature; attempt: number };
  /** The task function is about to be called. */
  started: { signature: Signature; attempt: number };
  /** The task succeeded and its results are stored. */
  succeeded: { signature: Signature; results: readonly TaskResult[]; durationMs: number };
  /** The task failed for good and the failure is stored. */
  failed: { signature: Signature; error: string; durationMs: number };
  /** The task failed and will run again after `delayMs`. */
  retried: { signature: Signature; error: string; delayMs: number };
  /** A redelivered task was already complete and was acknowledged without running again. */
  duplicate: { signature: Signature; state: TaskState['state'] };
  /** A message was moved to the dead-letter store. */
  deadLettered: { signature: Signature; reason: string };
  /** Task code called `progress()`. */
  progress: { signature: Signature; data: unknown };
  /** A background failure (broker or backend); also logged. */
  error: { error: unknown; signature?: Signature };
  /** The worker stopped. */
  stopped: undefined;
}

/** Outcome passed to the `onAfterTask` hook. */
export type TaskOutcome =
  | { status: 'succeeded'; results: readonly TaskResult[] }
  | { status: 'failed'; error: string }
  | { status: 'retried'; error: string; delayMs: number };

/** Options for a {@link Worker}. */
export interface WorkerOptions {
  /** Queue to consume (default: the broker's default queue). */
  queue?: string;
  /** Tasks run at once (default 10). */
  concurrency?: number;
  /**
   * Deliveries held beyond free slots (default 1): one task waiting locally starts the moment a slot
   * frees, instead of a round trip later. 0 takes only what can start now.
   */
  prefetch?: number;
  /** Default per-task timeout in ms (a task's own `timeoutMs` wins). */
  timeoutMs?: number;
  /** Back-off between retries (default: Go Machinery's Fibonacci seconds). */
  retry?: RetryStrategy;
  /** How long `stop()` waits for running tasks before aborting them (default 30 000 ms). */
  shutdownTimeoutMs?: number;
  /** Stop on SIGINT/SIGTERM; a second signal aborts running tasks (default true). */
  handleSignals?: boolean;
  /**
   * Which states before the outcome are stored: `'started'` (default) stores `STARTED` as the task
   * starts; `'all'` also stores `RECEIVED` first, Go's full sequence (one more write per task, overwritten
   * at once); `'none'` stores only the outcome. A task refused for bad arguments is stored as `RECEIVED`
   * then `FAILURE` in every mode but `'none'`.
   */
  progressStates?: 'all' | 'started' | 'none';
  /** Acknowledge a redelivered task whose stored state is already final without running it (default true). */
  skipCompletedRedeliveries?: boolean;
  /**
   * How many times a task that no worker here knows is put back for other workers before it is
   * dead-lettered and marked `FAILURE` (default 50, about 25 s of growing pauses, so that a worker
   * that knows the task gets a fair chance). Go Machinery requeues such tasks forever.
   */
  unregisteredTaskRequeues?: number;
  /** Called after `STARTED` is stored, just before the task runs. */
  onBeforeTask?: (signature: Signature) => void | Promise<void>;
  /** Called after the outcome is stored. */
  onAfterTask?: (signature: Signature, outcome: TaskOutcome) => void | Promise<void>;
  /** Called for every failed attempt and background error. */
  onError?: (error: unknown, signature?: Signature) => void;
  /** Logger (default: the server's). */
  logger?: Logger;
}

type Phase = 'idle' | 'starting' | 'running' | 'stopping';

interface Running {
  /** The task's execution once it started; undefined while the delivery is being prepared. */
  run: TaskRun | undefined;
  /** Set when the worker aborts everything; a run starting afterwards is aborted at once. */
  abortReason: unknown;
  done: Promise<void>;
}

const REQUEUE_BACKOFF_MS = 1000;

/**
 * Consumes one queue and runs registered tasks with bounded concurrency. Per task: `RECEIVED` →
 * `STARTED` → call (with timeout and `AbortSignal`) → outcome stored → callbacks sent → **then**
 * acknowledged, so a crash at any point redelivers the task instead of losing it.
 */
export class Worker extends TypedEmitter<WorkerEvents> {
  readonly queue: string;
  readonly concurrency: number;
  private readonly opts: Required<
    Pick<
      WorkerOptions,
      | 'prefetch'
      | 'shutdownTimeoutMs'
      | 'handleSignals'
      | 'progressStates'
      | 'skipCompletedRedeliveries'
      | 'unregisteredTaskRequeues'
    >
  > &
    WorkerOptions;
  private readonly logger: Logger;
  private readonly retry: RetryStrategy;
  private phase: Phase = 'idle';
  private consumer: Consumer | undefined;
  private readonly buffer: Delivery[] = [];
  private readonly running = new Set<Running>();
  private readonly acking = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  private signalHandler: (() => void) | undefined;
  private signalsSeen = 0;

  constructor(
    private readonly server: Server,
    options: WorkerOptions = {},
  ) {
    super();
    const concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `Worker concurrency must be an integer ≥ 1, got ${concurrency}.`,
      );
    }
    this.concurrency = concurrency;
    this.queue = options.queue ?? server.broker.defaultQueue;
    this.opts = {
      prefetch: 1,
      shutdownTimeoutMs: 30_000,
      handleSignals: true,
      progressStates: 'started',
      skipCompletedRedeliveries: true,
      unregisteredTaskRequeues: 50,
      ...options,
    };
    this.retry = options.retry ?? fibonacciRetry;
    this.logger = childLogger(resolveLogger(options.logger ?? server.logger), {
      component: 'worker',
      queue: this.queue,
    });
  }

  /** Tasks currently running. */
  get activeCount(): number {
    return this.running.size;
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.phase === 'running' || this.phase === 'starting';
  }

  /**
   * Starts consuming. Resolves once the broker delivers to this worker. Calling it while running is a
   * no-op; a stopped worker can be started again.
   */
  async start(): Promise<void> {
    if (this.phase === 'stopping') await this.stopping;
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    try {
      this.consumer = await this.server.broker.consume(this.queue, (d) => this.onDelivery(d), {
        concurrency: this.concurrency,
        prefetch: this.opts.prefetch,
      });
    } catch (err) {
      this.phase = 'idle';
      throw err;
    }
    this.phase = 'running';
    if (this.opts.handleSignals) this.installSignals();
    this.logger.info({ concurrency: this.concurrency }, 'worker started');
  }

  /**
   * Stops fetching, returns fetched-but-unstarted deliveries to the broker, waits up to `timeoutMs`
   * (default `shutdownTimeoutMs`) for running tasks, then aborts them. Idempotent.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.phase === 'idle') return Promise.resolve();
    this.stopping ??= this.doStop(options.timeoutMs ?? this.opts.shutdownTimeoutMs).finally(() => {
      this.stopping = undefined;
      this.phase = 'idle';
      this.emit('stopped', undefined);
    });
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.phase = 'stopping';
    this.removeSignals();
    try {
      await this.consumer?.stop();
    } catch (err) {
      this.reportError(err);
    }
    this.consumer = undefined;
    const unstarted = this.buffer.splice(0);
    await Promise.all(unstarted.map((d) => d.nack({ requeue: true }).catch((err) => this.reportError(err))));
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const all = Promise.all([...this.running].map((r) => r.done));
      const outcome = await Promise.race([all, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.logger.warn({ running: this.running.size }, 'shutdown timeout: aborting running tasks');
        this.abortRunning('worker stopped');
        // Aborted tasks settle promptly if they honour their signal; those that do not are left
        // unacknowledged and the broker redelivers them after their lease.
        await Promise.race([all, new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    }
    await Promise.all([...this.acking]);
    this.logger.info({}, 'worker stopped');
  }

  private abortRunning(reason: string): void {
    for (const r of this.running) {
      r.abortReason = new MachineryError('ERR_TASK_ABORTED', reason);
      r.run?.abort(r.abortReason);
    }
  }

  private installSignals(): void {
    this.signalsSeen = 0;
    this.signalHandler = () => {
      this.signalsSeen++;
      if (this.signalsSeen === 1) {
        this.logger.warn({}, 'signal received: stopping (send again to abort running tasks)');
        void this.stop();
      } else {
        this.abortRunning('worker aborted by signal');
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

  private reportError(error: unknown, signature?: Signature): void {
    this.logger.error({ err: error, taskUUID: signature?.uuid, taskName: signature?.name }, errorText(error));
    this.opts.onError?.(error, signature);
    const payload: WorkerEvents['error'] = signature ? { error, signature } : { error };
    this.emit('error', payload);
  }

  private onDelivery(delivery: Delivery): void {
    if (this.phase === 'stopping' || this.phase === 'idle') {
      delivery.nack({ requeue: true }).catch((err) => this.reportError(err));
      return;
    }
    if (this.running.size < this.concurrency) this.launch(delivery);
    else this.buffer.push(delivery);
  }

  private launch(delivery: Delivery): void {
    const entry: Running = { run: undefined, abortReason: undefined, done: Promise.resolve() };
    entry.done = this.process(delivery, entry)
      .catch((err) => this.recover(delivery, err))
      .then(() => {
        this.running.delete(entry);
        const next = this.buffer.shift();
        if (next) this.launch(next);
      });
    this.running.add(entry);
  }

  private async recover(delivery: Delivery, err: unknown): Promise<void> {
    this.reportError(err, delivery.signature);
    // Whatever went wrong, the delivery must not stay checked out; settling twice is a no-op.
    await delivery.nack({ requeue: true, delayMs: REQUEUE_BACKOFF_MS }).catch(() => {});
  }

  private async process(delivery: Delivery, entry: Running): Promise<void> {
    const sig = delivery.signature;
    const backend = this.server.backend;
    const task = this.server.getTask(sig.name);
    if (!task) return this.unregistered(delivery);

    // A broker without native delays (or an early redelivery) hands over a task before its ETA.
    const waitMs = sig.eta === null ? 0 : sig.eta.getTime() - Date.now();
    if (waitMs > 5) {
      await delivery.nack({ requeue: true, delayMs: waitMs });
      return;
    }

    if (delivery.redelivered && this.opts.skipCompletedRedeliveries && backend) {
      const state = await backend.getState(sig.uuid);
      if (state && isCompleted(state.state)) {
        // Finish what the crashed attempt may not have: callbacks and chord triggering.
        if (state.state === TaskStatus.SUCCESS) await this.afterSuccess(sig, state.results ?? [], true);
        else await this.afterFailure(sig, state.error, true);
        await delivery.ack();
        this.emit('duplicate', { signature: sig, state: state.state });
        return;
      }
    }

    // The payload is built only for listeners: this runs for every task.
    if (this.hasListeners('received')) this.emit('received', { signature: sig, attempt: delivery.attempt });
    const trackProgress = this.opts.progressStates !== 'none' && backend !== undefined;

    let args: unknown[];
    try {
      args = convertArgs(sig.args, task);
    } catch (err) {
      if (trackProgress) await this.bestEffort(backend.setStateReceived(sig), sig);
      // Bad arguments never succeed on a retry: fail at once with the reason.
      await this.finishFailure(
        delivery,
        sig,
        `Invalid arguments for task "${sig.name}": ${errorText(err)}`,
        0,
      );
      return;
    }

    // Progress states go out as the task starts and nothing waits for them: the outcome is written
    // after them on the same backend, which applies one task's writes in call order (Backend contract),
    // so the outcome always lands last without a round trip spent waiting.
    let progress: Promise<unknown> | undefined;
    if (trackProgress) {
      progress =
        this.opts.progressStates === 'all'
          ? Promise.all([
              this.bestEffort(backend.setStateReceived(sig), sig),
              this.bestEffort(backend.setStateStarted(sig), sig),
            ])
          : this.bestEffort(backend.setStateStarted(sig), sig);
    }
    if (this.hasListeners('started')) this.emit('started', { signature: sig, attempt: delivery.attempt });
    if (this.opts.onBeforeTask) {
      await progress;
      await this.opts.onBeforeTask(sig);
    }

    const started = performance.now();
    let value: unknown;
    let failure: unknown;
    let failed = false;
    const run = new TaskRun(sig, delivery, this.logger, (data) =>
      this.emit('progress', { signature: sig, data }),
    );
    entry.run = run;
    if (entry.abortReason !== undefined) run.abort(entry.abortReason);
    try {
      value = await run.invoke(task, args, task.options.timeoutMs ?? this.opts.timeoutMs);
      if (value instanceof RetryLater) {
        failed = true;
        failure = value;
      }
    } catch (err) {
      failed = true;
      failure = err;
    }
    const durationMs = performance.now() - started;

    if (!failed) {
      let results: TaskResult[];
      try {
        results = toResults(value);
      } catch (err) {
        await this.finishFailure(
          delivery,
          sig,
          `Task "${sig.name}" returned a value that cannot be stored: ${errorText(err)}`,
          durationMs,
        );
        return;
      }
      const followUps = (sig.onSuccess !== null && sig.onSuccess.length > 0) || sig.chordCallback !== null;
      await this.store(delivery, sig, async () => {
        if (backend) await backend.setStateSuccess(sig, results);
        if (followUps) await this.afterSuccess(sig, results, false);
      });
      if (this.hasListeners('succeeded')) this.emit('succeeded', { signature: sig, results, durationMs });
      if (this.opts.onAfterTask) await this.opts.onAfterTask(sig, { status: 'succeeded', results });
      return;
    }

    if (this.phase === 'stopping' && isMachineryError(failure, 'ERR_TASK_ABORTED')) {
      // Aborted by shutdown, not failed: give it back so another worker runs it.
      await delivery.nack({ requeue: true });
      return;
    }
    const text = errorText(failure);
    this.opts.onError?.(failure, sig);
    if (failure instanceof RetryLater || isMachineryError(failure, 'ERR_RETRY_LATER')) {
      await this.scheduleRetry(delivery, sig, text, (failure as RetryLater).delayMs ?? 0, false);
      return;
    }
    if (sig.retryCount > 0) {
      const strategy = task.options.retry ?? this.retry;
      const next = strategy.next(sig.retryTimeout);
      await this.scheduleRetry(delivery, sig, text, next.delayMs, true, next.timeout);
      return;
    }
    await this.finishFailure(delivery, sig, text, durationMs);
  }

  /** Runs `write` (the outcome) and acknowledges; when storing fails, the task goes back to the broker. */
  private async store(delivery: Delivery, sig: Signature, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.reportError(err, sig);
      // The outcome is not stored, so the task must not be acknowledged: it runs again later.
      await delivery.nack({ requeue: true, delayMs: REQUEUE_BACKOFF_MS });
      return;
    }
    // The slot is free once the outcome is stored: the next task (a prefetched one) starts while the
    // acknowledgement travels. stop() waits for acknowledgements still in flight.
    const ack = delivery.ack().then(
      () => {
        this.acking.delete(ack);
      },
      (err) => {
        this.acking.delete(ack);
        this.reportError(err, sig);
      },
    );
    this.acking.add(ack);
  }

  private async bestEffort(p: Promise<void>, sig: Signature): Promise<void> {
    try {
      await p;
    } catch (err) {
      // RECEIVED/STARTED are informational; the final state decides whether the task is acknowledged.
      this.reportError(err, sig);
    }
  }

  private async scheduleRetry(
    delivery: Delivery,
    sig: Signature,
    error: string,
    delayMs: number,
    consumeRetry: boolean,
    timeout?: number,
  ): Promise<void> {
    const backend = this.server.backend;
    const next = copySignature(sig);
    if (consumeRetry) {
      next.retryCount = sig.retryCount - 1;
      next.retryTimeout = timeout ?? sig.retryTimeout;
    }
    next.eta = delayMs > 0 ? new Date(Date.now() + delayMs) : null;
    next.sqsReceiptHandle = '';
    await this.store(delivery, sig, async () => {
      if (backend) await backend.setStateRetry(sig, error);
      // Same UUID: the producer's AsyncResult follows the retry.
      await this.server.send(next);
    });
    this.emit('retried', { signature: sig, error, delayMs });
    await this.opts.onAfterTask?.(sig, { status: 'retried', error, delayMs });
  }

  private async finishFailure(
    delivery: Delivery,
    sig: Signature,
    error: string,
    durationMs: number,
  ): Promise<void> {
    const backend = this.server.backend;
    await this.store(delivery, sig, async () => {
      if (backend) await backend.setStateFailure(sig, error);
      await this.afterFailure(sig, error, false);
    });
    // A failing task is business as usual, not a worker problem: info, not warn.
    this.logger.info({ taskUUID: sig.uuid, taskName: sig.name, error }, 'task failed');
    this.emit('failed', { signature: sig, error, durationMs });
    await this.opts.onAfterTask?.(sig, { status: 'failed', error });
  }

  /**
   * Sends `onSuccess` callbacks (results appended unless immutable) and triggers the chord. When
   * `recovering` (a redelivery of a completed task), only callbacks that were never sent are sent.
   */
  private async afterSuccess(
    sig: Signature,
    results: readonly TaskResult[],
    recovering: boolean,
  ): Promise<void> {
    for (const cb of sig.onSuccess ?? []) {
      const next = copySignature(cb);
      if (!sig.immutable) next.args = [...(next.args ?? []), ...results.map(resultToArg)];
      await this.sendCallback(next, recovering);
    }
    await this.maybeTriggerChord(sig, recovering);
  }

  /** Sends `onError` callbacks (error text prepended) and lets a chord fail visibly. */
  private async afterFailure(sig: Signature, error: string, recovering: boolean): Promise<void> {
    for (const cb of sig.onError ?? []) {
      const next = copySignature(cb);
      next.args = [toArg(error), ...(next.args ?? [])];
      await this.sendCallback(next, recovering);
    }
    await this.maybeTriggerChord(sig, recovering);
  }

  private async sendCallback(sig: Signature, recovering: boolean): Promise<void> {
    if (recovering && !(await this.maybeUnsent(sig.uuid))) return;
    await this.server.send(sig);
  }

  /**
   * Whether a callback the crashed attempt may have sent may also never have reached the broker:
   * `send` stores PENDING before it publishes, so a PENDING callback may have died in between. Such a
   * callback is sent again — a duplicate at worst (at-least-once), never a loss.
   */
  private async maybeUnsent(uuid: string): Promise<boolean> {
    const backend = this.server.backend;
    if (!backend) return true;
    const state = await backend.getState(uuid);
    return state === undefined || state.state === TaskStatus.PENDING;
  }

  private async maybeTriggerChord(sig: Signature, recovering: boolean): Promise<void> {
    const backend = this.server.backend;
    const callback = sig.chordCallback;
    if (!backend || sig.groupUUID === '' || callback === null) return;
    if (!(await backend.groupCompleted(sig.groupUUID, sig.groupTaskCount))) return;
    const won = await backend.triggerChord(sig.groupUUID, sig.uuid);
    // A winner seen again (a backend that remembers the winner answers its redelivery `true`) may have
    // died before its callback left; so may an unknown winner, when the backend cannot tell: then any
    // recovering member re-sends. Either way only a callback that may be unsent is sent.
    const mayResend = won || (recovering && backend.capabilities.rememberChordWinner !== true);
    if (!mayResend || !(await this.maybeUnsent(callback.uuid))) return;
    const states = await backend.groupTaskStates(sig.groupUUID, sig.groupTaskCount);
    const failedMember = states.find((s) => s.state !== TaskStatus.SUCCESS);
    const next = copySignature(callback);
    if (failedMember) {
      // Go drops the callback silently here; we fail it visibly and run its error path.
      const error = `Chord ${sig.groupUUID} cannot run: member ${failedMember.taskUUID} (${failedMember.taskName}) ended in ${failedMember.state}: ${failedMember.error}`;
      await backend.setStateFailure(next, error);
      for (const cb of next.onError ?? []) {
        const errCb = copySignature(cb);
        errCb.args = [toArg(error), ...(errCb.args ?? [])];
        await this.server.send(errCb);
      }
      return;
    }
    if (!next.immutable) {
      const appended = states.flatMap((s) => (s.results ?? []).map(resultToArg));
      next.args = [...(next.args ?? []), ...appended];
    }
    await this.server.send(next);
  }

  private async unregistered(delivery: Delivery): Promise<void> {
    const sig = delivery.signature;
    if (sig.ignoreWhenTaskNotRegistered) {
      this.logger.warn(
        { taskUUID: sig.uuid, taskName: sig.name },
        'dropping unregistered task (ignoreWhenTaskNotRegistered)',
      );
      await delivery.ack();
      return;
    }
    if (delivery.attempt <= this.opts.unregisteredTaskRequeues) {
      // Another worker on this queue may know the task; come back after a short, growing pause. The
      // jitter keeps two workers from handing two tasks to each other in lockstep forever.
      const delayMs = Math.min(REQUEUE_BACKOFF_MS, 20 * delivery.attempt) * (0.5 + Math.random());
      await delivery.nack({ requeue: true, delayMs });
      return;
    }
    const reason =
      `Task "${sig.name}" is not registered on any worker that received it (delivered ${delivery.attempt} times). ` +
      'Register it on a worker consuming this queue, then requeue it from the dead letters.';
    const backend = this.server.backend;
    if (backend) await this.bestEffort(backend.setStateFailure(sig, reason), sig);
    await delivery.nack({ requeue: false, reason });
    this.logger.warn({ taskUUID: sig.uuid, taskName: sig.name }, reason);
    this.emit('deadLettered', { signature: sig, reason });
  }
}

function resultToArg(r: TaskResult): Arg {
  return { name: '', type: r.type, value: r.value };
}

function toResults(value: unknown): TaskResult[] {
  if (value === undefined) return [];
  if (isTuple(value)) return value.values.map(toResult);
  return [toResult(value)];
}

function convertArgs(args: readonly Arg[] | null, task: TaskDefinition<never[], unknown>): unknown[] {
  const list = args ?? [];
  const expected = task.options.argTypes;
  if (expected) {
    if (expected.length !== list.length) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `expected ${expected.length} arguments, got ${list.length}`,
      );
    }
    list.forEach((a, i) => {
      if (a.type !== expected[i]) {
        throw new MachineryError(
          'ERR_INVALID_ARGUMENT',
          `argument ${i + 1} has type ${a.type}, expected ${expected[i]}`,
        );
      }
    });
  }
  return list.map((a, i) => {
    if (!isSupportedType(a.type)) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `argument ${i + 1}: ${a.type} is not one of supported types`,
      );
    }
    try {
      return argValue(a);
    } catch (err) {
      throw new MachineryError('ERR_INVALID_ARGUMENT', `argument ${i + 1}: ${errorText(err)}`);
    }
  });
}
