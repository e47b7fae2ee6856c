import { type Broker, MachineryError, type PublishMiddleware, type TaskMiddleware } from '@machinery/core';
import {
  type Attributes,
  type BatchObservableCallback,
  diag,
  type MeterProvider,
  metrics,
  type ObservableGauge,
} from '@opentelemetry/api';
import { ATTR, MESSAGING_SYSTEM, queueOf } from './attributes.js';
import { failedAttempt, outcomeOf, type TaskOutcome } from './outcome.js';
import { QueueDepths } from './queue-depths.js';
import { INSTRUMENTATION_NAME } from './tracing.js';

/**
 * Header in which the publish middleware records when a task was sent (ms since the epoch), for the
 * send→start latency. Go Machinery ignores headers it does not know.
 */
export const SENT_AT_HEADER = 'machinery-sent-at';

/**
 * Bucket boundaries of both histograms, in seconds: the semantic conventions' duration buckets,
 * stretched to an hour, since tasks run (and wait) far longer than requests.
 */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Options of {@link machineryMetrics}. */
export interface MachineryMetricsOptions {
  /** Where instruments are created; default the global provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /**
   * With a broker, queue depths (pending, delayed, dead letters) are reported as observable gauges,
   * read through its inspection operations where its `capabilities` offer them. Its `defaultQueue`
   * also names the queue of signatures sent without a routing key.
   */
  broker?: Broker;
  /** Queues whose pending tasks are counted; default the broker's default queue. */
  queues?: readonly string[];
  /** Minimum time between two reads of the broker's queues, in ms (default 15 000). */
  depthIntervalMs?: number;
  /** Each queue is read up to this many entries (default 10 000): a deeper queue reports this many. */
  depthLimit?: number;
  /** Queue name for signatures sent without a routing key; default the broker's default queue. */
  defaultQueue?: string;
}

/** The middleware {@link machineryMetrics} returns, and `close()` to stop reading queue depths. */
export interface MachineryMetrics {
  /** Counts sent tasks and stamps the send time for the latency histogram. */
  readonly publish: PublishMiddleware;
  /** Counts outcomes, times runs and their wait, tracks running tasks. */
  readonly task: TaskMiddleware;
  /** Removes the queue-depth callbacks: the broker is no longer read. Idempotent. */
  close(): void;
}

/**
 * Task metrics through the OpenTelemetry metrics API (instrument names below; attributes
 * `machinery.task.name` and `messaging.destination.name` on each, plus `machinery.task.outcome` or
 * `machinery.publish.origin`):
 *
 * | instrument | kind | what |
 * |---|---|---|
 * | `machinery.tasks.sent` | counter | tasks published (sends, schedules, callbacks, retries) |
 * | `machinery.tasks.processed` | counter | runs by outcome: succeeded, failed, retried, revoked, handed_back |
 * | `machinery.task.duration` | histogram (s) | time a run took on the worker |
 * | `machinery.task.latency` | histogram (s) | from send (or ETA, if later) to the first start on a worker |
 * | `machinery.tasks.running` | up-down counter | runs in progress |
 * | `machinery.queue.pending` / `.delayed` / `.dead_letters` | gauge | tasks waiting (needs `broker`) |
 *
 * @example
 * ```ts
 * const taskMetrics = machineryMetrics({ broker })
 * const server = new Server({
 *   broker,
 *   backend,
 *   middleware: { publish: [taskMetrics.publish], task: [taskMetrics.task] },
 * })
 * ```
 */
export function machineryMetrics(options: MachineryMetricsOptions = {}): MachineryMetrics {
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  const meter = provider.getMeter(INSTRUMENTATION_NAME);
  const broker = options.broker;
  const defaultQueue = options.defaultQueue ?? broker?.defaultQueue;
  const depthIntervalMs = checkCount('depthIntervalMs', options.depthIntervalMs, 15_000, 0);
  const depthLimit = checkCount('depthLimit', options.depthLimit, 10_000, 1);

  const sent = meter.createCounter('machinery.tasks.sent', {
    description: 'Tasks published: sends, schedules, callbacks and retries.',
    unit: '{task}',
  });
  const processed = meter.createCounter('machinery.tasks.processed', {
    description: 'Task runs on workers, by outcome (succeeded, failed, retried, revoked, handed_back).',
    unit: '{task}',
  });
  const duration = meter.createHistogram('machinery.task.duration', {
    description: 'Time a task run took on a worker.',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
  });
  const latency = meter.createHistogram('machinery.task.latency', {
    description: 'Time from a task being sent (or its ETA, if later) to its first start on a worker.',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
  });
  const running = meter.createUpDownCounter('machinery.tasks.running', {
    description: 'Task runs in progress on workers.',
    unit: '{task}',
  });

  const publish: PublishMiddleware = async (ctx, next) => {
    ctx.headers[SENT_AT_HEADER] = Date.now();
    await next();
    sent.add(1, {
      ...taskAttributes(ctx.signature.name, queueOf(ctx.signature, defaultQueue)),
      [ATTR.origin]: ctx.origin,
    });
  };

  const task: TaskMiddleware = async (ctx, next) => {
    const signature = ctx.signature;
    const attributes = taskAttributes(signature.name, queueOf(signature, defaultQueue));
    const sentAt = ctx.headers[SENT_AT_HEADER];
    // Redeliveries and hand-backs would count their earlier attempts' time as waiting.
    if (ctx.attempt === 1 && typeof sentAt === 'number') {
      const ready = Math.max(sentAt, signature.eta?.getTime() ?? 0);
      latency.record(Math.max(0, Date.now() - ready) / 1000, attributes);
    }
    running.add(1, attributes);
    const started = performance.now();
    let outcome: TaskOutcome | undefined;
    try {
      await next();
      outcome = outcomeOf(ctx);
    } catch (err) {
      outcome = failedAttempt(ctx, err);
      throw err;
    } finally {
      running.add(-1, attributes);
      const withOutcome = { ...attributes, [ATTR.outcome]: outcome ?? 'failed' };
      duration.record((performance.now() - started) / 1000, withOutcome);
      processed.add(1, withOutcome);
    }
  };

  let close = () => {};
  if (broker !== undefined) {
    const depths = new QueueDepths(broker, {
      queues: options.queues ?? [broker.defaultQueue],
      intervalMs: depthIntervalMs,
      limit: depthLimit,
      onError: (error, part) =>
        diag.warn(`@machinery/opentelemetry: reading ${part} queue depths failed`, error),
    });
    const gauges = {
      pending: meter.createObservableGauge('machinery.queue.pending', {
        description: 'Tasks waiting in a queue for a worker.',
        unit: '{task}',
      }),
      delayed: meter.createObservableGauge('machinery.queue.delayed', {
        description: 'Tasks waiting for their ETA, by queue.',
        unit: '{task}',
      }),
      deadLetters: meter.createObservableGauge('machinery.queue.dead_letters', {
        description: 'Messages in the dead-letter store, by queue.',
        unit: '{message}',
      }),
    } satisfies Record<string, ObservableGauge>;
    const observe: BatchObservableCallback = async (result) => {
      const snapshot = await depths.read();
      for (const part of ['pending', 'delayed', 'deadLetters'] as const) {
        for (const [queue, count] of snapshot[part] ?? []) {
          result.observe(gauges[part], count, queueAttributes(queue));
        }
      }
    };
    const observables = Object.values(gauges);
    meter.addBatchObservableCallback(observe, observables);
    close = () => {
      meter.removeBatchObservableCallback(observe, observables);
      close = () => {};
    };
  }

  return { publish, task, close: () => close() };
}

function queueAttributes(queue: string): Attributes {
  return { [ATTR.messagingSystem]: MESSAGING_SYSTEM, [ATTR.destination]: queue };
}

function taskAttributes(name: string, queue: string): Attributes {
  return { ...queueAttributes(queue), [ATTR.taskName]: name };
}

function checkCount(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `machineryMetrics: ${name} must be an integer ≥ ${min}, got ${String(value)}.`,
    );
  }
  return value;
}
