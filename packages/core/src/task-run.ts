import type { Delivery } from './broker.js';
import { TaskTimeoutError } from './errors.js';
import { childLogger, type Logger } from './logger.js';
import type { Signature } from './signature.js';
import type { TaskContext, TaskDefinition } from './task.js';

/**
 * One execution of a task function: its context, its timeout and its abort. The `AbortSignal` and
 * the child logger are created only when the task reads them (or a timeout needs the signal): most
 * tasks never do, and the worker runs thousands of tasks a second.
 */
export class TaskRun implements TaskContext {
  private controller: AbortController | undefined;
  private childLogger: Logger | undefined;
  private stopWaiting: ((reason: unknown) => void) | undefined;
  private abortReason: unknown;
  private aborted = false;

  constructor(
    readonly signature: Signature,
    private readonly delivery: Delivery,
    private readonly parentLogger: Logger,
    private readonly onProgress: (data: unknown) => void,
  ) {}

  get attempt(): number {
    return this.delivery.attempt;
  }

  get token(): string {
    return this.delivery.token;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get logger(): Logger {
    this.childLogger ??= childLogger(this.parentLogger, {
      taskUUID: this.signature.uuid,
      taskName: this.signature.name,
    });
    return this.childLogger;
  }

  progress(data: unknown): void {
    this.onProgress(data);
  }

  /**
   * Aborts the run: its signal fires and `invoke()` rejects with `reason` at once. The task function
   * may keep running if it ignores the signal; the worker no longer waits for it.
   */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.stopWaiting?.(reason);
  }

  /** Calls the task function with `args` (`this` = the context), bounded by `timeoutMs`. */
  invoke(
    task: TaskDefinition<never[], unknown>,
    args: unknown[],
    timeoutMs: number | undefined,
  ): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      timer = setTimeout(() => this.abort(new TaskTimeoutError(this.signature.name, timeoutMs)), timeoutMs);
    }
    return new Promise<unknown>((resolve, reject) => {
      const settle = (ok: boolean, value: unknown) => {
        if (timer) clearTimeout(timer);
        this.stopWaiting = undefined;
        if (ok) resolve(value);
        else reject(value);
      };
      this.stopWaiting = (reason) => settle(false, reason);
      if (this.aborted) return settle(false, this.abortReason);
      try {
        Promise.resolve((task.fn as (...a: unknown[]) => unknown).apply(this, args)).then(
          (v) => settle(true, v),
          (e) => settle(false, e),
        );
      } catch (err) {
        settle(false, err);
      }
    });
  }
}
