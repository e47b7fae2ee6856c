import { isMachineryError, isTaskRevoked, type TaskMiddlewareContext } from '@machinery/core';

/**
 * What one run of a task came to, as spans and metrics name it (`machinery.task.outcome`):
 * `succeeded`; `retried` (the attempt failed and the task is sent again); `failed` (for good);
 * `revoked` (through the control plane); `handed_back` (the delivery returns to the broker unrun).
 */
export type TaskOutcome = 'succeeded' | 'failed' | 'retried' | 'revoked' | 'handed_back';

/**
 * Classifies a run once `next()` resolved. The retry decision mirrors the worker's: a failure retries
 * unless it is final, when the task asked for it (`RetryLater`) or has retries left.
 */
export function outcomeOf(context: TaskMiddlewareContext): TaskOutcome | undefined {
  const outcome = context.outcome;
  switch (outcome?.status) {
    case 'succeeded':
      return 'succeeded';
    case 'handedBack':
      return 'handed_back';
    case 'failed':
      if (isTaskRevoked(outcome.error)) return 'revoked';
      return outcome.final ? 'failed' : failedAttempt(context, outcome.error);
    default:
      return undefined;
  }
}

/**
 * A failed attempt that retry rules may repeat — also what an inner middleware that threw comes to
 * (the worker records its error as such an attempt once the chain has returned).
 */
export function failedAttempt(context: TaskMiddlewareContext, error: unknown): TaskOutcome {
  return isMachineryError(error, 'ERR_RETRY_LATER') || context.signature.retryCount > 0
    ? 'retried'
    : 'failed';
}

/** `error.type` of a failure: the Machinery error code, else the error's class name. */
export function errorType(error: unknown): string {
  if (isMachineryError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return typeof error;
}
