/**
 * Stable error codes. Callers branch on these, never on message text.
 *
 * | code | meaning |
 * |---|---|
 * | `ERR_DECODE` | a message or stored value is not valid Machinery JSON |
 * | `ERR_ENCODE` | a value cannot be written in Machinery's wire format |
 * | `ERR_INVALID_ARGUMENT` | a signature, option or argument is invalid |
 * | `ERR_TASK_NOT_REGISTERED` | no task with that name is registered on this worker |
 * | `ERR_TASK_ALREADY_REGISTERED` | a second task was registered under an existing name |
 * | `ERR_TASK_FAILED` | the task ended in `FAILURE`; `message` is the stored error |
 * | `ERR_TASK_TIMEOUT` | the task ran longer than its `timeoutMs` |
 * | `ERR_TASK_ABORTED` | the task was aborted (worker stop, or a worker middleware ended it) |
 * | `ERR_TASK_CRASHED` | a task in the thread pool ended its thread (`process.exit`, an uncaught error) |
 * | `ERR_TASK_OUT_OF_MEMORY` | a task in the thread pool went over the pool's memory limit |
 * | `ERR_RETRY_LATER` | control flow: the task asked to run again later |
 * | `ERR_RESULT_TIMEOUT` | `AsyncResult.get()` waited longer than `timeoutMs` |
 * | `ERR_PAYLOAD_TOO_LARGE` | an encoded message exceeds the configured maximum |
 * | `ERR_CLOSED` | the component was closed |
 * | `ERR_CONNECTION` | a broker or backend could not be reached |
 * | `ERR_STALE_LEASE` | an ack/nack carried a lease token that is no longer valid |
 * | `ERR_NOT_FOUND` | the requested state or group does not exist |
 * | `ERR_INVALID_LOGGER` | a logger lacks one of `debug`, `info`, `warn`, `error` |
 */
export type ErrorCode =
  | 'ERR_DECODE'
  | 'ERR_ENCODE'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_TASK_NOT_REGISTERED'
  | 'ERR_TASK_ALREADY_REGISTERED'
  | 'ERR_TASK_FAILED'
  | 'ERR_TASK_TIMEOUT'
  | 'ERR_TASK_ABORTED'
  | 'ERR_TASK_CRASHED'
  | 'ERR_TASK_OUT_OF_MEMORY'
  | 'ERR_RETRY_LATER'
  | 'ERR_RESULT_TIMEOUT'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_CLOSED'
  | 'ERR_CONNECTION'
  | 'ERR_STALE_LEASE'
  | 'ERR_NOT_FOUND'
  | 'ERR_INVALID_LOGGER';

// A Symbol.for brand survives two copies of @machinery/core in one process, where instanceof does not.
const BRAND = Symbol.for('machinery.error');

/**
 * Base class of every error this project throws. `code` is stable; `cause` keeps the underlying error.
 *
 * @example
 * ```ts
 * try { await result.get({ timeoutMs: 1000 }) }
 * catch (err) { if (isMachineryError(err, 'ERR_RESULT_TIMEOUT')) … }
 * ```
 */
export class MachineryError extends Error {
  /** Stable, documented code; see {@link ErrorCode}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'MachineryError';
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `err` is a {@link MachineryError} (from any copy of core), optionally with the given `code`. */
export function isMachineryError(err: unknown, code?: ErrorCode): err is MachineryError {
  if (typeof err !== 'object' || err === null || (err as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return code === undefined || (err as MachineryError).code === code;
}

/** A message or stored value could not be decoded. `path` names the offending field. */
export class DecodeError extends MachineryError {
  constructor(
    message: string,
    readonly path = '',
    options?: { cause?: unknown },
  ) {
    super('ERR_DECODE', path ? `${message} (at ${path})` : message, options);
    this.name = 'DecodeError';
  }
}

/**
 * Throw (or return) this from a task to run it again after `delayMs` without consuming a retry —
 * the equivalent of Go Machinery's `ErrRetryTaskLater`. The worker recognises it by its code
 * (`isMachineryError(err, 'ERR_RETRY_LATER')`) and reads `delayMs`, so one made by another copy of
 * core counts too.
 */
export class RetryLater extends MachineryError {
  constructor(
    readonly delayMs: number,
    message = 'retry requested',
  ) {
    super('ERR_RETRY_LATER', message);
    this.name = 'RetryLater';
  }
}

/** The task ran longer than its configured timeout; its `AbortSignal` was aborted. */
export class TaskTimeoutError extends MachineryError {
  constructor(
    readonly taskName: string,
    readonly timeoutMs: number,
  ) {
    super('ERR_TASK_TIMEOUT', `Task "${taskName}" timed out after ${timeoutMs} ms`);
    this.name = 'TaskTimeoutError';
  }
}

const REVOKED = Symbol.for('machinery.revoked');

/**
 * The task was revoked (through a control plane) and ended without running, or was aborted while
 * running. Its code is `ERR_TASK_ABORTED`, as for any task a worker ended; {@link isTaskRevoked} tells a
 * revocation apart (a metrics middleware counts revoked tasks with it).
 */
export class TaskRevokedError extends MachineryError {
  constructor(
    readonly taskName: string,
    readonly taskUUID: string,
    readonly reason: string,
  ) {
    super('ERR_TASK_ABORTED', `Task "${taskName}" (${taskUUID}) was revoked: ${reason}`);
    this.name = 'TaskRevokedError';
    Object.defineProperty(this, REVOKED, { value: true });
  }
}

/**
 * True when `err` is a {@link TaskRevokedError} (from any copy of core): read it from a failed
 * `context.outcome.error` in a worker middleware.
 */
export function isTaskRevoked(err: unknown): err is TaskRevokedError {
  return isMachineryError(err) && (err as unknown as Record<symbol, unknown>)[REVOKED] === true;
}

/** No task with this name is registered. */
export class TaskNotRegisteredError extends MachineryError {
  constructor(readonly taskName: string) {
    super(
      'ERR_TASK_NOT_REGISTERED',
      `Task "${taskName}" is not registered. Register it on the server with server.register() before starting a worker that should run it.`,
    );
    this.name = 'TaskNotRegisteredError';
  }
}

/** The task ended in `FAILURE`; `message` is the error text stored by the worker. */
export class TaskFailedError extends MachineryError {
  constructor(
    readonly taskUUID: string,
    readonly taskName: string,
    errorText: string,
  ) {
    super('ERR_TASK_FAILED', errorText);
    this.name = 'TaskFailedError';
  }
}

/** Builds an `ERR_INVALID_ARGUMENT` error. */
export function invalidArgument(message: string, cause?: unknown): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', message, cause === undefined ? undefined : { cause });
}

/** The text of any thrown value, as stored in a task's `Error` field. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
