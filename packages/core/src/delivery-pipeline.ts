import { taskArguments } from './argument-conversion.js';
import type { Backend } from './backend.js';
import type { Broker, Delivery } from './broker.js';
import { errorText, isMachineryError, MachineryError } from './errors.js';
import { FollowUps, hasFailureFollowUps, hasSuccessFollowUps } from './follow-ups.js';
import type { Logger } from './logger.js';
import { composeMiddleware, type TaskMiddleware } from './middleware.js';
import type { RetryDelay, RetryStrategy } from './retry.js';
import type { Sender } from './sender.js';
import type { Signature } from './signature.js';
import { isCompleted, TaskStatus } from './state.js';
import type { TaskRegistry } from './task-registry.js';
import type { TaskExecutor, TaskRun, TaskRunHost } from './task-run.js';
import type { WorkerEventSink } from './worker-events.js';

/** How long a delivery whose handling failed (its outcome could not be stored) waits before it comes again. */
export const REQUEUE_BACKOFF_MS = 1000;

/** Everything the pipeline needs, given by the Worker. */
export interface DeliveryPipelineOptions {
  tasks: TaskRegistry;
  backend: Backend | undefined;
  sender: Sender;
  /** Where a hand-back is published anew when requeues count toward the broker's delivery limit. */
  broker: Broker;
  middleware: readonly TaskMiddleware[] | undefined;
  logger: Logger;
  events: WorkerEventSink;
  retry: RetryStrategy;
  timeoutMs: number | undefined;
  progressStates: 'all' | 'started' | 'none';
  skipCompletedRedeliveries: boolean;
  unregisteredTaskRequeues: number;
  /** Where task functions run (the thread pool); in the worker's own thread without one. */
  executor?: TaskExecutor | undefined;
}

/** When and how a failed attempt runs again: `backoff` consumes a retry, `RetryLater` does not. */
interface RetryPlan {
  delayMs: number;
  backoff: RetryDelay | undefined;
}

/**
 * The path of one delivery through a worker, as one straight line:
 * 1. guards — an unregistered task, an early ETA, a redelivery of a completed task;
 * 2. worker middleware, around
 * 3. the run — argument conversion, progress states, the task function with its timeout;
 * 4. the outcome stored — `SUCCESS`, `RETRY` or `FAILURE` (or the delivery handed back);
 * 5. follow-ups — callbacks, the chord trigger, the re-sent retry;
 * 6. settled — acknowledged only now, so a crash anywhere before redelivers the task.
 * If storing fails the delivery goes back to the broker and no outcome event fires.
 */
export class DeliveryPipeline implements TaskRunHost {
  readonly logger: Logger;
  private readonly tasks: TaskRegistry;
  private readonly backend: Backend | undefined;
  private readonly followUps: FollowUps;
  private readonly events: WorkerEventSink;
  private readonly retry: RetryStrategy;
  private readonly timeoutMs: number | undefined;
  private readonly broker: Broker;
  private readonly progressStates: 'all' | 'started' | 'none';
  private readonly skipCompletedRedeliveries: boolean;
  private readonly unregisteredTaskRequeues: number;
  private readonly executor: TaskExecutor | undefined;
  /** The middleware nested around `run`; `undefined` without middleware, so no wrapper runs per task. */
  private readonly middleware: ((run: TaskRun) => Promise<void>) | undefined;
  private acknowledging = 0;
  private acknowledged: (() => void) | undefined;

  constructor(options: DeliveryPipelineOptions) {
    this.logger = options.logger;
    this.tasks = options.tasks;
    this.backend = options.backend;
    this.followUps = new FollowUps(options.sender, options.backend);
    this.broker = options.broker;
    this.events = options.events;
    this.retry = options.retry;
    this.timeoutMs = options.timeoutMs;
    this.progressStates = options.progressStates;
    this.skipCompletedRedeliveries = options.skipCompletedRedeliveries;
    this.unregisteredTaskRequeues = options.unregisteredTaskRequeues;
    this.executor = options.executor;
    this.middleware = composeMiddleware<TaskRun>(options.middleware, (run) => this.run(run));
  }

  /**
   * Takes one delivery from arrival to settlement. Resolves once its slot may take the next task (the
   * outcome is stored; the acknowledgement may still be travelling — see {@link drain}); never rejects:
   * whatever goes wrong, the delivery is handed back and the failure reported.
   */
  async handle(run: TaskRun): Promise<void> {
    try {
      await this.process(run);
    } catch (err) {
      this.events.reportError(err, run.signature);
      // Settling twice is a no-op, so this is safe whatever step failed.
      await run.delivery.nack({ requeue: true, delayMs: REQUEUE_BACKOFF_MS }).catch(() => {});
    }
  }

  /** Resolves once every acknowledgement in flight has settled. */
  drain(): Promise<void> {
    if (this.acknowledging === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const earlier = this.acknowledged;
      this.acknowledged = earlier
        ? () => {
            earlier();
            resolve();
          }
        : resolve;
    });
  }

  /** Task code called `progress(data)`. */
  progress(run: TaskRun, data: unknown): void {
    if (this.events.hasListeners('progress'))
      this.events.emit('progress', { signature: run.signature, data });
  }

  private async process(run: TaskRun): Promise<void> {
    const delivery = run.delivery;
    const signature = delivery.signature;

    // 1. Guards.
    const task = this.tasks.get(signature.name);
    if (task === undefined) return this.unregistered(delivery);
    if (signature.eta !== null) {
      // A broker without native delays (or an early redelivery) hands over a task before its ETA.
      const waitMs = signature.eta.getTime() - Date.now();
      if (waitMs > 5) {
        await delivery.nack({ requeue: true, delayMs: waitMs });
        return;
      }
    }
    if (delivery.redelivered && this.skipCompletedRedeliveries && (await this.completedBefore(delivery)))
      return;
    run.task = task;
    // Payloads are built only for listeners: this runs for every task.
    if (this.events.hasListeners('received')) {
      this.events.emit('received', { signature, attempt: delivery.attempt });
    }

    // 2. Middleware around 3. the run.
    if (this.middleware === undefined) {
      await this.run(run);
    } else {
      try {
        await this.middleware(run);
      } catch (err) {
        run.recordMiddlewareError(err);
      }
      if (run.status === undefined) {
        run.fail(
          `Task "${signature.name}" was skipped: a worker middleware returned without calling next() or deciding an outcome (succeed, fail or handBack).`,
        );
      }
    }

    // A delivery handed back (by a middleware, or by the worker stopping) stores nothing.
    if (run.status === 'handedBack') {
      await this.handBack(delivery, run.delayMs);
      if (this.events.hasListeners('handedBack')) {
        this.events.emit('handedBack', { signature, delayMs: run.delayMs });
      }
      return;
    }
    const failure = run.status === 'failed' ? errorText(run.error) : '';
    const retry = run.status === 'failed' ? this.retryPlan(run) : undefined;

    // 4. The outcome stored, then 5. its follow-ups; the task is done only when both are.
    let acknowledged: boolean;
    try {
      acknowledged = await this.store(run, failure, retry);
    } catch (err) {
      this.events.reportError(err, signature);
      // Not stored, so not acknowledged: the broker hands the task out again and it runs again.
      await delivery.nack({ requeue: true, delayMs: REQUEUE_BACKOFF_MS });
      return;
    }

    // 6. Settled. The slot frees now, while the acknowledgement travels; stop() waits for it.
    if (!acknowledged) void this.acknowledge(delivery);
    this.announce(run, failure, retry);
  }

  /** 3. The run, innermost in the middleware: arguments, progress states, the task function. */
  private async run(run: TaskRun): Promise<void> {
    const signature = run.signature;
    if (run.entered) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `A worker middleware called next() twice for task "${signature.name}" (${signature.uuid}); call it once.`,
      );
    }
    run.entered = true;
    // Decided before it ran: a middleware's succeed/fail/handBack, or the worker stopping.
    if (run.status !== undefined) return;
    const backend = this.backend;
    const trackProgress = this.progressStates !== 'none' && backend !== undefined;

    let args: unknown[];
    try {
      args = taskArguments(signature.args, run.task);
    } catch (err) {
      if (trackProgress) await this.bestEffort(backend.setStateReceived(signature), signature);
      // Bad arguments never succeed on a retry: fail at once with the reason.
      run.recordFinalFailure(`Invalid arguments for task "${signature.name}": ${errorText(err)}`);
      return;
    }

    // Progress states go out as the task starts and nothing waits for them: the outcome is written
    // after them on the same backend, which applies one task's writes in call order (Backend contract),
    // so the outcome always lands last without a round trip spent waiting.
    if (trackProgress) {
      if (this.progressStates === 'all') this.bestEffortLater(backend.setStateReceived(signature), signature);
      this.bestEffortLater(backend.setStateStarted(signature), signature);
    }
    if (this.events.hasListeners('started')) {
      this.events.emit('started', { signature, attempt: run.attempt });
    }

    const started = performance.now();
    try {
      const value = await run.invoke(args, run.task.options.timeoutMs ?? this.timeoutMs, this.executor);
      // `return new RetryLater(ms)` asks for a retry as `throw` does.
      if (isMachineryError(value, 'ERR_RETRY_LATER')) run.recordThrow(value);
      else run.recordReturn(value);
    } catch (err) {
      run.recordThrow(err);
    }
    run.durationMs = performance.now() - started;
  }

  /** A failed attempt runs again after `RetryLater`'s delay, or with back-off while retries are left. */
  private retryPlan(run: TaskRun): RetryPlan | undefined {
    if (run.finalFailure) return undefined;
    if (isMachineryError(run.error, 'ERR_RETRY_LATER')) {
      const delayMs = (run.error as { delayMs?: unknown }).delayMs;
      return { delayMs: typeof delayMs === 'number' ? delayMs : 0, backoff: undefined };
    }
    if (run.signature.retryCount <= 0) return undefined;
    const backoff = (run.task.options.retry ?? this.retry).next(run.signature.retryTimeout);
    return { delayMs: backoff.delayMs, backoff };
  }

  /**
   * 4 and 5: stores `SUCCESS`, `RETRY` or `FAILURE`, then sends what follows from it. Resolves `true`
   * when the backend acknowledged the delivery with the stored outcome (nothing follows from it then).
   */
  private async store(run: TaskRun, failure: string, retry: RetryPlan | undefined): Promise<boolean> {
    const signature = run.signature;
    const backend = this.backend;
    if (run.status === 'succeeded') {
      if (backend) {
        const followUps = hasSuccessFollowUps(signature);
        const joint = followUps
          ? undefined
          : backend.storeAndAcknowledge?.(run.delivery, TaskStatus.SUCCESS, { results: [...run.results] });
        if (joint !== undefined) {
          await joint;
          return true;
        }
        await backend.setStateSuccess(signature, run.results);
        if (followUps) await this.followUps.afterSuccess(signature, run.results, false);
      } else if (hasSuccessFollowUps(signature)) {
        await this.followUps.afterSuccess(signature, run.results, false);
      }
    } else if (retry) {
      if (backend) await backend.setStateRetry(signature, failure);
      await this.followUps.retry(signature, retry.delayMs, retry.backoff);
    } else {
      if (backend) {
        const joint = hasFailureFollowUps(signature)
          ? undefined
          : backend.storeAndAcknowledge?.(run.delivery, TaskStatus.FAILURE, { error: failure });
        if (joint !== undefined) {
          await joint;
          return true;
        }
        await backend.setStateFailure(signature, failure);
      }
      await this.followUps.afterFailure(signature, failure, false);
    }
    return false;
  }

  /** Tells listeners what was stored. */
  private announce(run: TaskRun, failure: string, retry: RetryPlan | undefined): void {
    const signature = run.signature;
    if (run.status === 'succeeded') {
      if (this.events.hasListeners('succeeded')) {
        this.events.emit('succeeded', { signature, results: run.results, durationMs: run.durationMs });
      }
    } else if (retry) {
      if (this.events.hasListeners('retried')) {
        this.events.emit('retried', { signature, error: failure, delayMs: retry.delayMs });
      }
    } else {
      // A failing task is business as usual, not a worker problem: info, not warn.
      this.logger.info({ taskUUID: signature.uuid, taskName: signature.name, error: failure }, 'task failed');
      if (this.events.hasListeners('failed')) {
        this.events.emit('failed', { signature, error: failure, durationMs: run.durationMs });
      }
    }
  }

  /**
   * Returns a delivery to the broker without an outcome. Where a requeue counts toward the broker's
   * delivery limit, a copy due after `delayMs` is published and the delivery acknowledged instead (a
   * crash between the two runs the task twice, never loses it); if the copy cannot be published, the
   * delivery is requeued as usual.
   */
  private async handBack(delivery: Delivery, delayMs: number): Promise<void> {
    if (this.broker.capabilities.requeueCountsTowardLimit) {
      const copy: Signature = { ...delivery.signature, eta: new Date(Date.now() + delayMs) };
      try {
        await this.broker.publish(copy);
        // acknowledge() reports its own failure: the copy is out, so the task is not lost either way.
        await this.acknowledge(delivery);
        return;
      } catch (err) {
        this.events.reportError(err, delivery.signature);
      }
    }
    await delivery.nack({ requeue: true, delayMs });
  }

  private async acknowledge(delivery: Delivery): Promise<void> {
    this.acknowledging++;
    try {
      await delivery.ack();
    } catch (err) {
      this.events.reportError(err, delivery.signature);
    } finally {
      if (--this.acknowledging === 0 && this.acknowledged) {
        const resolve = this.acknowledged;
        this.acknowledged = undefined;
        resolve();
      }
    }
  }

  /**
   * A redelivered task whose outcome is already stored is acknowledged without running again, after
   * finishing what the crashed attempt may not have: its callbacks and the chord trigger.
   */
  private async completedBefore(delivery: Delivery): Promise<boolean> {
    if (!this.backend) return false;
    const signature = delivery.signature;
    const state = await this.backend.getState(signature.uuid);
    if (!state || !isCompleted(state.state)) return false;
    if (state.state === TaskStatus.SUCCESS)
      await this.followUps.afterSuccess(signature, state.results ?? [], true);
    else await this.followUps.afterFailure(signature, state.error, true);
    await delivery.ack();
    if (this.events.hasListeners('duplicate'))
      this.events.emit('duplicate', { signature, state: state.state });
    return true;
  }

  private async unregistered(delivery: Delivery): Promise<void> {
    const signature = delivery.signature;
    if (signature.ignoreWhenTaskNotRegistered) {
      this.logger.warn(
        { taskUUID: signature.uuid, taskName: signature.name },
        'dropping unregistered task (ignoreWhenTaskNotRegistered)',
      );
      await delivery.ack();
      return;
    }
    if (delivery.attempt <= this.unregisteredTaskRequeues) {
      // Another worker on this queue may know the task; come back after a short, growing pause. The
      // jitter keeps two workers from handing two tasks to each other in lockstep forever.
      const delayMs = Math.min(REQUEUE_BACKOFF_MS, 20 * delivery.attempt) * (0.5 + Math.random());
      await delivery.nack({ requeue: true, delayMs });
      return;
    }
    const reason =
      `Task "${signature.name}" is not registered on any worker that received it (delivered ${delivery.attempt} times). ` +
      'Register it on a worker consuming this queue, then requeue it from the dead letters.';
    if (this.backend) await this.bestEffort(this.backend.setStateFailure(signature, reason), signature);
    await delivery.nack({ requeue: false, reason });
    this.logger.warn({ taskUUID: signature.uuid, taskName: signature.name }, reason);
    this.events.emit('deadLettered', { signature, reason });
  }

  /** Like {@link bestEffort} for a write nobody awaits, without an async frame (one per task). */
  private bestEffortLater(write: Promise<void>, signature: Signature): void {
    write.then(undefined, (err: unknown) => this.events.reportError(err, signature));
  }

  private async bestEffort(write: Promise<void>, signature: Signature): Promise<void> {
    try {
      await write;
    } catch (err) {
      // RECEIVED/STARTED are informational; the final state decides whether the task is acknowledged.
      this.events.reportError(err, signature);
    }
  }
}
