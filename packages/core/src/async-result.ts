import { fromWire, type TaskResult } from './arg.js';
import type { Backend } from './backend.js';
import type { ProgressStore, TaskProgress } from './control/progress.js';
import { MachineryError, TaskFailedError } from './errors.js';
import { isCompleted, type TaskState, TaskStatus } from './state.js';

/** How long and how to wait in `get()`. */
export interface GetOptions {
  /** Give up after this many ms with `ERR_RESULT_TIMEOUT` (default: wait indefinitely). */
  timeoutMs?: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
  /** First poll interval when the backend cannot push (default 5 ms, growing to 500 ms). */
  pollMs?: number;
}

/**
 * Converts stored results to JavaScript values: none → `undefined`, one → the value, several → an array.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when a result has a type this package cannot read.
 */
export function resultValue(results: readonly TaskResult[] | null): unknown {
  if (results === null || results.length === 0) return undefined;
  if (results.length === 1) {
    const r = results[0] as TaskResult;
    return fromWire(r.type, r.value);
  }
  return results.map((r) => fromWire(r.type, r.value));
}

function noBackend(): MachineryError {
  return new MachineryError(
    'ERR_INVALID_ARGUMENT',
    'No result backend is configured, so results cannot be read. Pass a backend to new Server({ backend }).',
  );
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });

function deadline(options: GetOptions, what: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  const onOuter = () => controller.abort(options.signal?.reason);
  if (options.signal) {
    if (options.signal.aborted) controller.abort(options.signal.reason);
    else options.signal.addEventListener('abort', onOuter, { once: true });
  }
  if (options.timeoutMs !== undefined) {
    timers.push(
      setTimeout(
        () =>
          controller.abort(
            new MachineryError(
              'ERR_RESULT_TIMEOUT',
              `Timed out after ${options.timeoutMs} ms waiting for ${what}. Is a worker running that has this task registered?`,
            ),
          ),
        options.timeoutMs,
      ),
    );
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onOuter);
    },
  };
}

/**
 * The eventual result of one task. `get()` resolves with the task's return value once it succeeded,
 * and rejects with {@link TaskFailedError} (the stored error text) once it failed.
 */
export class AsyncResult<R = unknown> {
  private last: TaskState | undefined;

  constructor(
    readonly taskUUID: string,
    readonly taskName: string,
    private readonly backend: Backend | undefined,
    private readonly progressStore?: ProgressStore | undefined,
  ) {}

  /**
   * The task's last reported progress (what it passed to `this.progress(data)`), stored by the worker
   * at most every 250 ms by default; `undefined` before the first report.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` when the server has no control plane.
   */
  async progress(): Promise<TaskProgress | undefined> {
    if (!this.progressStore) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        'Progress is stored only with a control plane. Pass one to new Server({ control }), e.g. a RedisControlPlane.',
      );
    }
    return this.progressStore.get(this.taskUUID);
  }

  /** The latest stored state (one backend read; cached once completed). */
  async state(): Promise<TaskState | undefined> {
    if (this.last && isCompleted(this.last.state)) return this.last;
    if (!this.backend) throw noBackend();
    this.last = await this.backend.getState(this.taskUUID);
    return this.last;
  }

  /** Waits for completion and returns the raw completed state, without throwing on `FAILURE`. */
  async wait(options: GetOptions = {}): Promise<TaskState> {
    const backend = this.backend;
    if (!backend) throw noBackend();
    const current = await this.state();
    if (current && isCompleted(current.state)) return current;
    const { signal, dispose } = deadline(options, `task ${this.taskUUID} (${this.taskName})`);
    try {
      if (backend.waitForState) {
        this.last = await backend.waitForState(this.taskUUID, signal);
        return this.last;
      }
      let interval = options.pollMs ?? 5;
      for (;;) {
        await sleep(interval, signal);
        const s = await this.state();
        if (s && isCompleted(s.state)) return s;
        interval = Math.min(500, Math.ceil(interval * 1.5));
      }
    } finally {
      dispose();
    }
  }

  /**
   * Waits for the task and returns its result.
   * @throws TaskFailedError (`ERR_TASK_FAILED`) when the task failed; `ERR_RESULT_TIMEOUT` on timeout.
   */
  async get(options: GetOptions = {}): Promise<R> {
    const s = await this.wait(options);
    if (s.state === TaskStatus.FAILURE)
      throw new TaskFailedError(this.taskUUID, this.taskName || s.taskName, s.error);
    return resultValue(s.results) as R;
  }
}

/** The results of a group's members, in group order. */
export class GroupAsyncResult<R = unknown> {
  constructor(
    readonly groupUUID: string,
    readonly results: readonly AsyncResult<R>[],
  ) {}

  /**
   * Waits for every member; resolves with their values in group order.
   * @throws TaskFailedError of the first member (in group order) that failed.
   */
  async get(options: GetOptions = {}): Promise<R[]> {
    const states = await this.wait(options);
    return states.map((s, i) => {
      const r = this.results[i] as AsyncResult<R>;
      if (s.state === TaskStatus.FAILURE)
        throw new TaskFailedError(r.taskUUID, r.taskName || s.taskName, s.error);
      return resultValue(s.results) as R;
    });
  }

  /** Waits for every member and returns their completed states (no throw on failure). */
  async wait(options: GetOptions = {}): Promise<TaskState[]> {
    const { signal, dispose } = deadline(options, `group ${this.groupUUID}`);
    try {
      const opts: GetOptions = { signal };
      if (options.pollMs !== undefined) opts.pollMs = options.pollMs;
      return await Promise.all(this.results.map((r) => r.wait(opts)));
    } finally {
      dispose();
    }
  }
}

/** The result of a chain: the value of its last link. */
export class ChainAsyncResult<R = unknown> {
  constructor(readonly results: readonly AsyncResult[]) {}

  /**
   * Waits for the links in order and resolves with the last link's value.
   * @throws TaskFailedError of the first link that failed.
   */
  async get(options: GetOptions = {}): Promise<R> {
    const { signal, dispose } = deadline(options, 'chain');
    try {
      const opts: GetOptions = { signal };
      if (options.pollMs !== undefined) opts.pollMs = options.pollMs;
      let value: unknown;
      for (const r of this.results) value = await r.get(opts);
      return value as R;
    } finally {
      dispose();
    }
  }
}

/** The result of a chord: its callback's value once every member succeeded. */
export class ChordAsyncResult<R = unknown> {
  constructor(
    readonly group: GroupAsyncResult,
    readonly callback: AsyncResult<R>,
  ) {}

  /**
   * Waits for the members and the callback; resolves with the callback's value.
   * @throws TaskFailedError of a failed member, or of the callback.
   */
  async get(options: GetOptions = {}): Promise<R> {
    const { signal, dispose } = deadline(options, `chord ${this.callback.taskUUID}`);
    try {
      const opts: GetOptions = { signal };
      if (options.pollMs !== undefined) opts.pollMs = options.pollMs;
      await this.group.get(opts);
      return await this.callback.get(opts);
    } finally {
      dispose();
    }
  }
}
