import { signature, silentLogger, TaskStatus, toResult } from '@machinery/core';
import { AMQP_URL, closeAdmin, deleteQueues } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBackend } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(closeAdmin);

function backend(ns: string, n: number): AmqpBackend {
  const b = new AmqpBackend({ url: AMQP_URL, connectionName: `${ns}-backend-${n}`, logger: silentLogger });
  cleanups.push(() => b.close());
  return b;
}

it('hands the same state to every reader, several reading at once from two processes', async () => {
  const ns = uniqueNamespace('mtreads');
  const [writer, a, b] = [backend(ns, 0), backend(ns, 1), backend(ns, 2)];
  const sig = signature('add', [1, 2], { headers: {} });
  cleanups.push(() => deleteQueues([sig.uuid]));
  await writer.setStatePending(sig);
  await writer.setStateSuccess(sig, [toResult(3)]);
  // Readers take turns: each takes the message and puts it straight back; the others look again.
  const reads = await Promise.all(
    Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).getState(sig.uuid)),
  );
  expect(reads.map((s) => s?.state)).toEqual(Array(6).fill(TaskStatus.SUCCESS));
  expect((await writer.getState(sig.uuid))?.results).toEqual([{ type: 'int64', value: 3 }]);
});

it('never shows a reader an empty queue while states are written, and keeps the creation time', async () => {
  const ns = uniqueNamespace('mtreads');
  const [writer, reader] = [backend(ns, 0), backend(ns, 1)];
  const sig = signature('add', [1, 2], { headers: {} });
  cleanups.push(() => deleteQueues([sig.uuid]));
  await writer.setStatePending(sig);
  const created = (await reader.getState(sig.uuid))?.createdAt.getTime();
  let polling = true;
  const seen: (string | undefined)[] = [];
  const poller = (async () => {
    while (polling) seen.push((await reader.getState(sig.uuid))?.state);
  })();
  await writer.setStateReceived(sig);
  await writer.setStateStarted(sig);
  await writer.setStateSuccess(sig, [toResult(3)]);
  polling = false;
  await poller;
  expect(seen).not.toContain(undefined);
  const done = await reader.getState(sig.uuid);
  expect(done?.state).toBe(TaskStatus.SUCCESS);
  expect(done?.createdAt.getTime()).toBe(created);
});
