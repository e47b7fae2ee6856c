import type { TaskResult } from './arg.js';
import type { Signature } from './signature.js';
import type { TaskState } from './state.js';

/** Payloads of the worker's typed events. Every outcome event fires only after the outcome is stored. */
export interface WorkerEvents {
  [event: string]: unknown;
  /** A delivery of a registered task passed the worker's checks and goes to the middleware. */
  received: { signature: Signature; attempt: number };
  /** The task function is about to be called. */
  started: { signature: Signature; attempt: number };
  /** The task succeeded; its results are stored and its callbacks sent. */
  succeeded: { signature: Signature; results: readonly TaskResult[]; durationMs: number };
  /** The task failed for good; the failure is stored and its `onError` callbacks sent. */
  failed: { signature: Signature; error: string; durationMs: number };
  /** The task failed; `RETRY` is stored and it was sent again to run after `delayMs`. */
  retried: { signature: Signature; error: string; delayMs: number };
  /**
   * The delivery went back to the broker without an outcome (a middleware's `handBack`, or a stopping
   * worker), to come again after `delayMs`.
   */
  handedBack: { signature: Signature; delayMs: number };
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

/** How the per-delivery pipeline tells the worker's listeners what happened. */
export interface WorkerEventSink {
  /** True when someone listens: payloads are built only then, as this runs for every task. */
  hasListeners(event: keyof WorkerEvents): boolean;
  emit<K extends keyof WorkerEvents>(event: K, payload: WorkerEvents[K]): void;
  /** Logs a failure and emits it as `error`. */
  reportError(error: unknown, signature?: Signature): void;
}
