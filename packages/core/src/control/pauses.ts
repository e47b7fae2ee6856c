import type { Unsubscribe } from './revocations.js';

/**
 * Paused queues, shared by every process that uses the same store. Workers of a paused queue stop
 * fetching; producers keep sending. A pause lasts until resumed (it survives worker restarts).
 */
export interface PauseStore {
  /** Pauses `queue` and tells every listener. */
  pause(queue: string): Promise<void>;
  /** Resumes `queue` and tells every listener. */
  resume(queue: string): Promise<void>;
  /** True while `queue` is paused. */
  isPaused(queue: string): Promise<boolean>;
  /** Every paused queue. */
  paused(): Promise<string[]>;
  /** Calls `listener` on every pause or resume from now on, by any process. Resolves once live. */
  onChange(listener: (queue: string, paused: boolean) => void): Promise<Unsubscribe>;
}
