import { invalidArgument } from '../errors.js';
import type { TaskDefinition } from '../task.js';
import type { FlowControl } from './flow-control.js';
import { missingStore } from './flow-middleware.js';
import { rateLimitRule } from './rate-limits.js';

/**
 * Checks a task's flow options as it is registered: valid numbers, and a store for each limit it
 * declares — a limit nobody counts would be silently ignored.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` saying which option is wrong or which store is missing.
 */
// biome-ignore lint/suspicious/noExplicitAny: any task signature is accepted here.
export function checkFlowOptions(task: TaskDefinition<any, any>, flow: FlowControl | undefined): void {
  const { rateLimit, concurrencyLimit } = task.options;
  if (rateLimit !== undefined) {
    rateLimitRule(task.name, rateLimit);
    if (flow?.rateLimits === undefined) throw missingStore(task.name, 'rateLimit', 'rateLimits');
  }
  if (concurrencyLimit !== undefined) {
    const { max, leaseMs, retryDelayMs } = concurrencyLimit;
    if (
      !Number.isSafeInteger(max) ||
      max < 1 ||
      (leaseMs !== undefined && !(leaseMs > 0)) ||
      (retryDelayMs !== undefined && !(retryDelayMs >= 0))
    ) {
      throw invalidArgument(
        `Task "${task.name}" has an invalid concurrencyLimit (max ${max}, leaseMs ${leaseMs}, retryDelayMs ${retryDelayMs}); give a whole max ≥ 1, leaseMs > 0 and retryDelayMs ≥ 0.`,
      );
    }
    if (flow?.concurrency === undefined) throw missingStore(task.name, 'concurrencyLimit', 'concurrency');
  }
}
