import { createInterface } from 'node:readline';
import { nowMs } from '../stats.js';
import type { ChildMessage, WorkerConfig } from './types.js';

/**
 * Shared bookkeeping of a benchmark worker child: waits for "go" on stdin after reporting ready,
 * counts completions, samples RSS, records start latencies, and reports once `expect` tasks are done.
 */
export function completionTracker(config: WorkerConfig, report: (m: ChildMessage) => void) {
  let completed = 0;
  let startedAt = 0;
  let peakRss = process.memoryUsage().rss;
  let hangs = 0;
  const startLatencies: number[] = [];
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    finished,
    /** Reports ready and resolves when the parent says "go". */
    async ready(): Promise<void> {
      report({ event: 'ready' });
      const rl = createInterface({ input: process.stdin });
      await new Promise<void>((resolve) => rl.once('line', () => resolve()));
      rl.close();
    },
    recordStart(sentAt: number) {
      startLatencies.push(nowMs() - sentAt);
    },
    firstHang(): boolean {
      return hangs++ === 0;
    },
    completed() {
      completed++;
      // The clock starts at the first completion, not at "go": connecting and declaring queues (which
      // some systems do before "ready" and others on start) stays out of the rate.
      if (completed === 1) startedAt = nowMs();
      if (config.expect > 0 && completed === config.expect) {
        clearInterval(sampler);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        report({
          event: 'done',
          elapsedMs: nowMs() - startedAt,
          completed: completed - 1,
          peakRss,
          startLatencies,
        });
        finish();
      }
    },
  };
}
