import { createHash } from 'node:crypto';
import { defineTask } from '@machinery/core';

// Tasks of the thread-pool figure. The worker process registers them, and with the pool every thread
// imports this module too.

const BLOCK = Buffer.alloc(1024, 7);

/** `rounds` SHA-256 digests of 1 KiB: CPU-bound work, sized by the bench to take about 5 ms. */
export function hashRounds(rounds: number): number {
  let last = 0;
  for (let i = 0; i < rounds; i++) last = createHash('sha256').update(BLOCK).digest()[0] ?? 0;
  return last;
}

/** A CPU-bound task: `rounds` digests. */
export const hashTask = defineTask('bench_hash', (rounds: number) => hashRounds(rounds));

/** A task that does nothing: the pool's overhead per task. */
export const noopTask = defineTask('bench_noop', () => undefined);
