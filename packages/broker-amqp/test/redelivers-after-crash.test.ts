import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AmqpBackend } from '@machinery/backend-amqp';
import { defineTask, Server, silentLogger } from '@machinery/core';
import { AMQP_URL, closeAdmin, ResultQueues, trackResultQueues } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

const fixture = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
const results = new ResultQueues();
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];

/** A worker child process; `started` collects the task UUIDs it reports starting. */
function startWorker(namespace: string, taskMs: number) {
  const child = spawn(process.execPath, [fixture, AMQP_URL, namespace, String(taskMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const started: string[] = [];
  let ready = false;
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('started ')) started.push(line.split(' ')[1] as string);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, started, isReady: () => ready, exited };
}

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const c of cleanups.splice(0)) await c();
});

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

it('finishes every task when a worker process is killed (SIGKILL) mid-task', async () => {
  const namespace = uniqueNamespace('mtcrash');
  const broker = new AmqpBroker(brokerOptions(namespace, { connectionName: `${namespace}-producer` }));
  const backend = trackResultQueues(
    new AmqpBackend({ url: AMQP_URL, connectionName: `${namespace}-producer-backend`, logger: silentLogger }),
    results.of(namespace),
  );
  const producer = new Server({ broker, backend, logger: silentLogger });
  cleanups.push(async () => {
    await producer.close();
    await deleteNamespace(namespace);
    await results.delete(namespace);
  });
  const slowDouble = defineTask('slow_double', (n: number) => n * 2);

  const doomed = startWorker(namespace, 2_000);
  await eventually(() => expect(doomed.isReady()).toBe(true), { timeoutMs: 20_000 });
  const sent = await Promise.all(
    Array.from({ length: 12 }, (_, i) => producer.send(slowDouble.signature(i))),
  );

  // Three tasks running and two prefetched, none finished (each takes 2 s): kill it now.
  await eventually(() => expect(doomed.started.length).toBe(3), { timeoutMs: 20_000 });
  doomed.child.kill('SIGKILL');
  await doomed.exited;

  const survivor = startWorker(namespace, 20);
  const values = await Promise.all(sent.map((r) => r.get({ timeoutMs: 45_000 })));
  expect(values).toEqual(Array.from({ length: 12 }, (_, i) => i * 2));
  // The tasks the killed worker had started were delivered again, and finished by the survivor.
  expect(survivor.started).toEqual(expect.arrayContaining(doomed.started));
}, 90_000);
