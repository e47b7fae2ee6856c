import type { PauseStore } from './pauses.js';
import type { ProgressStore } from './progress.js';
import type { RevocationStore } from './revocations.js';
import type { TaskEventStream } from './task-events.js';
import type { WorkerRegistry } from './worker-registry.js';

/**
 * The control plane beside the data plane: revocations, paused queues, live workers, the task event
 * stream and stored progress, shared by every process that uses the same store. Pass one to
 * `new Server({ control })`; the CLI and the dashboard read the same one. A third party implements this
 * and runs `controlPlaneSuite` from `@machinery/testing`.
 */
export interface ControlPlane {
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  /** Releases connections, subscriptions and timers. Idempotent. */
  close(): Promise<void>;
}

/** How a Server's workers and producers use their control plane (`new Server({ control, controlOptions })`). */
export interface ControlOptions {
  /** Heartbeat period of each worker in ms (default 5000); a worker is listed for three periods. */
  heartbeatMs?: number;
  /** Publish task events (default true). */
  events?: boolean;
  /** Events held while the stream is slow; more are dropped and counted (default 10 000). */
  maxBufferedEvents?: number;
  /** At most one progress write per task per this many ms, keeping the last (default 250). */
  progressIntervalMs?: number;
  /** How long stored progress is kept, in ms (default 3 600 000). */
  progressTtlMs?: number;
}

/** The revocation id of a periodic schedule: revoking it removes the schedule in every process. */
export function scheduleRevocationId(name: string): string {
  return `schedule:${name}`;
}
