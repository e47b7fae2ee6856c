import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { Logger, Signature, TaskState, WireFormat } from '@machinery/core';

/** Reads a task's stored state: any result backend is one (only `getState` is used). */
export interface TaskStateReader {
  getState(taskUUID: string): Promise<TaskState | undefined>;
}

/** Options for {@link SqsBroker}. Every field is optional; the defaults suit a worker on AWS. */
export interface SqsBrokerOptions {
  /**
   * An existing client. The broker uses it as it is (region, endpoint, credentials) and never
   * destroys it; `region`, `endpoint`, `credentials` and `clientOptions` are then ignored.
   */
  client?: SQSClient;
  /** AWS region, e.g. `us-east-1` (default: the SDK's chain — `AWS_REGION`, profile…). */
  region?: string;
  /** Endpoint of an SQS-compatible server, e.g. `http://127.0.0.1:4566` for fauxqs or LocalStack. */
  endpoint?: string;
  /** Credentials (default: the SDK's provider chain — environment, profile, instance role…). */
  credentials?: SQSClientConfig['credentials'];
  /** Further options for the `SQSClient` the broker creates (retries, request handler…). */
  clientOptions?: SQSClientConfig;
  /**
   * Go Machinery's `Broker` setting: queue URL = `queueUrlPrefix + "/" + queue`, e.g.
   * `https://sqs.us-east-2.amazonaws.com/123456789012`. Without it, URLs come from `CreateQueue`
   * (with `createQueues`) or `GetQueueUrl`. A queue name that is already a full `http(s)://` URL is
   * used as it is.
   */
  queueUrlPrefix?: string;
  /** Queue for signatures without a routing key (default `machinery_tasks`, as Go). */
  defaultQueue?: string;
  /**
   * Create missing queues (and dead-letter queues) on first use: standard, or FIFO when the name ends
   * in `.fifo` (default `true`). Turn it off where IAM forbids `sqs:CreateQueue`.
   */
  createQueues?: boolean;
  /**
   * How long a received message stays invisible to other consumers, in ms (default 30 000). SQS counts
   * whole seconds, so this is rounded up to at least 1 s. While a delivery is held, the broker extends
   * it every half timeout (heartbeat); a crashed worker's messages come back after at most this long.
   */
  visibilityTimeoutMs?: number;
  /**
   * Long-poll wait of one `ReceiveMessage`, 0–20 s (default 20). With 0 (short polling) an empty
   * receive is followed by a pause of `emptyReceiveDelayMs` instead of Go's tight loop.
   */
  waitTimeSeconds?: number;
  /** Pause after an empty short-polling receive, in ms (default 1000; only with `waitTimeSeconds: 0`). */
  emptyReceiveDelayMs?: number;
  /**
   * Longest `DelaySeconds` sent in one step (default 900, SQS's maximum). A longer delay is reached in
   * hops: the message arrives early, and the broker re-sends it with the remaining delay without
   * running it. Lower it only to test hopping.
   */
  maxDelaySeconds?: number;
  /**
   * A message received more than this many times without being acknowledged is moved to the
   * dead-letter queue instead of being delivered again (default 100; `Infinity` turns the check off).
   * Keep it above the Worker's `unregisteredTaskRequeues` (default 50). A queue's own SQS redrive
   * policy, where configured, applies as well.
   */
  maxReceiveCount?: number;
  /**
   * Dead-letter queue: one queue name for every queue, or a function of the source queue
   * (default: `<queue>-dead`, or `<name>-dead.fifo` for a FIFO queue `<name>.fifo`).
   */
  deadLetterQueue?: string | ((queue: string) => string);
  /**
   * Further queues whose dead letters `deadLetters()` and `requeueDeadLetters()` read, beyond the
   * default queue and the queues this broker has published to or consumed.
   */
  inspectQueues?: readonly string[];
  /**
   * FIFO `MessageGroupId` for a signature without `brokerMessageGroupId` (default: the task UUID, i.e.
   * no ordering between such tasks; Go Machinery refuses to send them).
   */
  defaultMessageGroupId?: (signature: Signature) => string;
  /** Largest accepted message body in bytes (default 1 MiB less 4 KiB for our message attributes). */
  maxMessageBytes?: number;
  /**
   * How message bodies are written: `compact` (default) leaves out fields holding Go's zero value — Go
   * reads it as the same message, at a fraction of the size; `go` writes every field, byte for byte
   * what Go Machinery writes.
   */
  wireFormat?: WireFormat;
  /**
   * How long acknowledgements are gathered into one `DeleteMessageBatch`, in ms (default 5). 0 still
   * batches the acknowledgements made in the same event-loop turn.
   */
  deleteBatchWindowMs?: number;
  /**
   * Where the broker reads a task's outcome — pass the result backend the Worker writes to. Needed
   * only to honour `stopTaskDeletionOnError`: when a task with that flag is acknowledged and its stored
   * state is `FAILURE`, the message is not deleted, so SQS delivers it again after the visibility
   * timeout and, after `maxReceiveCount` receives (or the queue's own redrive policy), moves it to the
   * dead-letter queue — Go Machinery's meaning. Without it the flag cannot be honoured: such a message
   * is deleted like any other, with a warning.
   */
  outcomes?: TaskStateReader;
  /** Logger (default: `defaultLogger()` from core — warnings and errors to stderr). */
  logger?: Logger;
}

/** The options after defaults and validation. */
export interface ResolvedOptions {
  readonly queueUrlPrefix: string | undefined;
  readonly defaultQueue: string;
  readonly createQueues: boolean;
  readonly visibilitySeconds: number;
  readonly waitTimeSeconds: number;
  readonly emptyReceiveDelayMs: number;
  readonly maxDelaySeconds: number;
  readonly maxReceiveCount: number;
  readonly deadLetterQueue: (queue: string) => string;
  readonly inspectQueues: readonly string[];
  readonly defaultMessageGroupId: (signature: Signature) => string;
  readonly maxMessageBytes: number;
  readonly wireFormat: WireFormat;
  readonly deleteBatchWindowMs: number;
  readonly outcomes: TaskStateReader | undefined;
}

/** SQS's limit on `DelaySeconds`. */
export const SQS_MAX_DELAY_SECONDS = 900;
/** SQS's limit on a visibility timeout: 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
/** SQS's message size limit (1 MiB since 2025). */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** `<queue>-dead`, keeping the `.fifo` suffix last so the DLQ of a FIFO queue is FIFO too. */
export function defaultDeadLetterQueue(queue: string): string {
  return queue.endsWith('.fifo') ? `${queue.slice(0, -'.fifo'.length)}-dead.fifo` : `${queue}-dead`;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new TypeError(message);
}

/**
 * Applies defaults and checks ranges.
 * @throws TypeError naming the offending option (wrapped by the broker as `ERR_INVALID_ARGUMENT`).
 */
export function resolveOptions(options: SqsBrokerOptions): ResolvedOptions {
  const visibilityMs = options.visibilityTimeoutMs ?? 30_000;
  check(
    Number.isFinite(visibilityMs) && visibilityMs > 0,
    `visibilityTimeoutMs must be a positive number of ms, got ${visibilityMs}`,
  );
  const visibilitySeconds = Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(visibilityMs / 1000)));
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  check(
    Number.isInteger(waitTimeSeconds) && waitTimeSeconds >= 0 && waitTimeSeconds <= 20,
    `waitTimeSeconds must be an integer from 0 to 20, got ${waitTimeSeconds}`,
  );
  const maxDelaySeconds = options.maxDelaySeconds ?? SQS_MAX_DELAY_SECONDS;
  check(
    Number.isInteger(maxDelaySeconds) && maxDelaySeconds >= 1 && maxDelaySeconds <= SQS_MAX_DELAY_SECONDS,
    `maxDelaySeconds must be an integer from 1 to ${SQS_MAX_DELAY_SECONDS}, got ${maxDelaySeconds}`,
  );
  const maxReceiveCount = options.maxReceiveCount ?? 100;
  check(maxReceiveCount >= 1, `maxReceiveCount must be at least 1, got ${maxReceiveCount}`);
  const maxMessageBytes = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES - 4096;
  check(
    Number.isInteger(maxMessageBytes) && maxMessageBytes > 0 && maxMessageBytes <= SQS_MAX_MESSAGE_BYTES,
    `maxMessageBytes must be an integer from 1 to ${SQS_MAX_MESSAGE_BYTES}, got ${maxMessageBytes}`,
  );
  const wireFormat = options.wireFormat ?? 'compact';
  check(
    wireFormat === 'compact' || wireFormat === 'go',
    `wireFormat must be 'compact' or 'go', got ${String(wireFormat)}`,
  );
  const dlq = options.deadLetterQueue;
  const prefix = options.queueUrlPrefix?.replace(/\/+$/, '');
  return {
    queueUrlPrefix: prefix === '' ? undefined : prefix,
    defaultQueue: options.defaultQueue ?? 'machinery_tasks',
    createQueues: options.createQueues ?? true,
    visibilitySeconds,
    waitTimeSeconds,
    emptyReceiveDelayMs: options.emptyReceiveDelayMs ?? 1000,
    maxDelaySeconds,
    maxReceiveCount,
    deadLetterQueue: typeof dlq === 'string' ? () => dlq : (dlq ?? defaultDeadLetterQueue),
    inspectQueues: options.inspectQueues ?? [],
    defaultMessageGroupId: options.defaultMessageGroupId ?? ((sig) => sig.uuid),
    maxMessageBytes,
    wireFormat,
    deleteBatchWindowMs: Math.max(0, options.deleteBatchWindowMs ?? 5),
    outcomes: options.outcomes,
  };
}
