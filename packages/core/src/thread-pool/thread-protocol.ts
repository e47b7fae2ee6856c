import type { TaskResult } from '../arg.js';
import { type ErrorCode, isMachineryError, MachineryError, RetryLater } from '../errors.js';

/**
 * What the pool sends a thread: run one task. The signature travels as its wire message (the codec's
 * compact JSON), arguments included: a string crosses threads several times faster than the object
 * would by structured clone, and the thread decodes it by the same rules as a worker.
 */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly body: string;
  readonly attempt: number;
  readonly token: string;
}

/** What the pool sends a thread: skip a task it sent, if it has not started (the worker gave it up). */
export interface CancelMessage {
  readonly type: 'cancel';
  readonly id: number;
}

/** An error as it crosses the thread boundary: what the worker needs to store it and to retry it. */
export interface ThrownError {
  readonly message: string;
  readonly name: string;
  readonly stack: string | undefined;
  /** Set for a `MachineryError`. */
  readonly code: string | undefined;
  /** Set for `RetryLater`. */
  readonly delayMs: number | undefined;
}

/** What a thread sends the pool. */
export type ThreadMessage =
  /** The task module is loaded; these are the tasks it defines. */
  | { readonly type: 'ready'; readonly names: readonly string[] }
  /** The task returned: its results in wire form (none, one, or a tuple's). */
  | { readonly type: 'result'; readonly id: number; readonly results: readonly TaskResult[] }
  | { readonly type: 'error'; readonly id: number; readonly error: ThrownError }
  | { readonly type: 'progress'; readonly id: number; readonly data: unknown }
  | {
      readonly type: 'log';
      readonly id: number;
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly obj: Record<string, unknown>;
      readonly msg: string | undefined;
    };

/** Flattens a thrown value for `postMessage` (a class instance would arrive as a plain object). */
export function toThrownError(err: unknown): ThrownError {
  const e = err instanceof Error ? err : new Error(typeof err === 'string' ? err : String(err));
  const delayMs = (e as { delayMs?: unknown }).delayMs;
  return {
    message: e.message,
    name: e.name,
    stack: e.stack,
    code: isMachineryError(e) ? e.code : undefined,
    delayMs: isMachineryError(e, 'ERR_RETRY_LATER') && typeof delayMs === 'number' ? delayMs : undefined,
  };
}

/** Rebuilds a thrown error on the worker's side: codes and `RetryLater`'s delay keep their meaning. */
export function fromThrownError(t: ThrownError): Error {
  let error: Error;
  if (t.code === 'ERR_RETRY_LATER') error = new RetryLater(t.delayMs ?? 0, t.message);
  else if (t.code !== undefined) error = new MachineryError(t.code as ErrorCode, t.message);
  else {
    error = new Error(t.message);
    error.name = t.name;
  }
  if (t.stack !== undefined) error.stack = t.stack;
  return error;
}
