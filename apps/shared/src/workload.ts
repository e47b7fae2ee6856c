import { chain, chord, group, type Server } from '@machinery/core';
import { add, concat, flaky, multiply, polite, split, sumInts, whenDidIRun } from './tasks.js';

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  /** How long to wait for each result (default 30 000 ms). */
  resultTimeoutMs?: number;
}

/**
 * Sends one of each kind of work and prints what came back.
 * @throws MachineryError `ERR_RESULT_TIMEOUT` when a result does not come in time (no worker running?).
 */
export async function runWorkload(
  server: Server,
  log: (line: string) => void,
  options: WorkloadOptions = {},
): Promise<void> {
  const GET = { timeoutMs: options.resultTimeoutMs ?? 30_000 };
  const sum = await server.send(add.signature(1, 2));
  log(`task      add(1, 2)                      = ${await sum.get(GET)}`);

  const ints = await server.send(sumInts.signature([1, 2, 3, 4]));
  log(`task      sum_ints([1, 2, 3, 4])         = ${await ints.get(GET)}`);

  const words = await server.send(concat.signature(['foo', 'bar', 'baz']));
  log(`task      concat(["foo","bar","baz"])    = ${JSON.stringify(await words.get(GET))}`);

  const pair = await server.send(split.signature('hello typed world'));
  log(`task      split("hello typed world")     = ${JSON.stringify(await pair.get(GET))}`);

  const g = await server.sendGroup(group(add.signature(1, 1), add.signature(2, 2), add.signature(5, 6)));
  log(`group     add(1,1) | add(2,2) | add(5,6)  = ${JSON.stringify(await g.get(GET))}`);

  const c = await server.sendChain(chain(add.signature(2, 2), add.signature(5, 6), multiply.signature(4)));
  log(`chain     add(2,2) → add(5,6) → ×4        = ${await c.get(GET)}`);

  const ch = await server.sendChord(
    chord(group(add.signature(1, 1), add.signature(2, 2), add.signature(5, 6)), multiply.signature()),
  );
  log(`chord     multiply(group of adds)         = ${await ch.get(GET)}`);

  const eta = new Date(Date.now() + 300);
  const later = await server.send(whenDidIRun.signatureWith({ eta }));
  const ranAt = (await later.get(GET)) as number;
  log(`eta       scheduled +300 ms               ran ${ranAt - eta.getTime()} ms after its ETA`);

  const retried = await server.send(flaky.signatureWith({ retryCount: 3 }, 'report'));
  log(`retry     flaky("report"), retryCount 3   = ${await retried.get(GET)}`);

  const politely = await server.send(polite.signature());
  log(`later     polite() (RetryLater 200 ms)    = ${await politely.get(GET)}`);
}
