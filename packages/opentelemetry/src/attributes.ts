import type { Signature } from '@machinery/core';

/** `messaging.system` of every span and metric: Machinery is not one of the semantic conventions' brokers. */
export const MESSAGING_SYSTEM = 'machinery';

/**
 * Attribute names: the OpenTelemetry messaging semantic conventions where one fits, `machinery.*` for
 * what only Machinery has. Spans and metrics use the same names, so a dashboard can join them.
 */
export const ATTR = {
  messagingSystem: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  errorType: 'error.type',
  taskName: 'machinery.task.name',
  attempt: 'machinery.task.attempt',
  retriesLeft: 'machinery.task.retry_count',
  eta: 'machinery.task.eta',
  outcome: 'machinery.task.outcome',
  origin: 'machinery.publish.origin',
  groupUUID: 'machinery.group.uuid',
  chordCallbackUUID: 'machinery.chord.callback.uuid',
  retryDelayMs: 'machinery.retry.delay_ms',
} as const;

/** Queue name used when neither the signature nor the options name one. */
const UNKNOWN_QUEUE = 'default';

/**
 * The queue a signature goes to: its routing key, else the default queue. A producer may leave the
 * routing key empty (the broker fills in its default as it publishes); a worker always sees it set.
 */
export function queueOf(signature: Signature, defaultQueue: string | undefined): string {
  return signature.routingKey || defaultQueue || UNKNOWN_QUEUE;
}
