/** A task's last reported progress. */
export interface TaskProgress {
  /** What the task passed to `progress(data)` (as JSON). */
  readonly data: unknown;
  /** When it was stored (ms since the epoch). */
  readonly at: number;
}

/** The last progress of each task, readable from any process. */
export interface ProgressStore {
  /** Stores `data` (a JSON value) as the task's progress for `ttlMs`, replacing the previous one. */
  set(taskUUID: string, data: unknown, ttlMs: number): Promise<void>;
  /** The task's last progress, or `undefined` when none was stored or it expired. */
  get(taskUUID: string): Promise<TaskProgress | undefined>;
}
