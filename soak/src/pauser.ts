import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from '@machinery/core';

/** Options of {@link pauseAtRandom}. */
export interface PauserOptions {
  /** The producer's server, with the run's control plane (`server.pause` / `server.resume`). */
  server: Server;
  /** The queue the workers consume. */
  queue: string;
  /** Time between the end of a pause and the next, drawn uniformly from [min, max] ms. */
  everyMs: readonly [number, number];
  /** Length of a pause, drawn uniformly from [min, max] ms. */
  forMs: readonly [number, number];
  /** Each pause, once over: when it was asked for and when the resume was (ms since epoch). */
  windows: { from: number; to: number }[];
  log: (line: string) => void;
}

const between = ([min, max]: readonly [number, number]) => min + Math.random() * (max - min);

/** Resumes `queue`, retrying: a queue left paused would hold every task after it forever. */
async function resume(o: PauserOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await o.server.resume(o.queue);
      return;
    } catch (err) {
      if (attempt >= 20) throw err;
      o.log(`resuming ${o.queue} failed (attempt ${attempt}): ${(err as Error).message}`);
      await sleep(250 * attempt);
    }
  }
}

/**
 * Pauses the workers' queue for a few seconds at random moments until `signal` aborts, and always
 * leaves it resumed: workers stop fetching and hand back what they fetched, producers keep sending,
 * and a worker restarted during a pause starts paused.
 */
export async function pauseAtRandom(o: PauserOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(between(o.everyMs), undefined, { signal }).catch(() => {});
    if (signal.aborted) break;
    const from = Date.now();
    try {
      await o.server.pause(o.queue);
      await sleep(between(o.forMs), undefined, { signal }).catch(() => {});
    } catch (err) {
      o.log(`pausing ${o.queue} failed: ${(err as Error).message}`);
    } finally {
      const to = Date.now();
      await resume(o);
      o.windows.push({ from, to });
    }
  }
}
