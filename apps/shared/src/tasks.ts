import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask, RetryLater, tuple } from '@machinery/core';

// Example tasks shared by the sample producer and worker. The names match Go Machinery's example
// tasks (add, multiply, sum_ints, concat, split …) so a Go worker on the same broker can run them too.

/** Sums its arguments (Go: `add(args ...int64) int64`). */
export const add = defineTask('add', (...numbers: number[]) => numbers.reduce((a, b) => a + b, 0));

/** Multiplies its arguments; no arguments → 1. */
export const multiply = defineTask('multiply', (...numbers: number[]) => numbers.reduce((a, b) => a * b, 1));

/** Sums a slice (`sum_ints(numbers []int64) int64`). */
export const sumInts = defineTask('sum_ints', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));

/** Joins strings (`concat(strs []string) string`). */
export const concat = defineTask('concat', (parts: string[]) => parts.join(''));

/** Splits a string in two results (`split(str string) (string, string)` style). */
export const split = defineTask('split', (text: string) => {
  const [first = '', ...rest] = text.split(' ');
  return tuple(first, rest.join(' '));
});

/**
 * Fails while more than one retry is left, then succeeds: shows automatic retries. Sent with
 * `retryCount: 3` it fails twice. It counts by the signature, not by process, so it behaves the same
 * however many workers share the queue.
 */
export const flaky = defineTask('flaky', function (label: string) {
  const left = this.signature.retryCount;
  if (left > 1) throw new Error(`flaky "${label}" failed (${left} retries left)`);
  return `"${label}" succeeded with ${left} retry left`;
});

let politeCalls = 0;
/** Asks to be run again later once (RetryLater does not consume a retry). */
export const polite = defineTask('polite', () => {
  politeCalls++;
  if (politeCalls === 1) throw new RetryLater(200, 'busy, come back in 200 ms');
  return 'done on the second try';
});

/** Returns the time it ran (ms since epoch), to show ETA scheduling. */
export const whenDidIRun = defineTask('when_did_i_run', () => Date.now());

/** A periodic heartbeat. */
export const heartbeat = defineTask('heartbeat', () => new Date().toISOString());

/**
 * Works for `seconds` (default 30), reporting progress every second and stopping when its signal is
 * aborted: a task to watch with `machinery task <uuid>` and to revoke with `machinery revoke <uuid>`.
 */
export const slow = defineTask('slow', async function (seconds: number = 30) {
  for (let done = 0; done < seconds; done++) {
    this.progress({ done, of: seconds });
    // Rejects as soon as the signal is aborted (revoked, timed out or the worker stopping).
    await sleep(1000, undefined, { signal: this.signal });
  }
  return `worked ${seconds} s`;
});

/** Every example task. */
export const exampleTasks = [
  add,
  multiply,
  sumInts,
  concat,
  split,
  flaky,
  polite,
  whenDidIRun,
  heartbeat,
  slow,
] as const;
