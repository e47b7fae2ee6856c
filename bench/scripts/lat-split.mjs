#!/usr/bin/env node
// Where send→start goes at a steady rate: the producer's share (send called → send resolved, i.e.
// PENDING stored and published) and the rest (published → task started in the worker process); and
// send→result: until the worker has stored the outcome, then until the producer learns of it.
//   node bench/scripts/lat-split.mjs [--n 5000] [--rate 500] [--url redis://127.0.0.1:6391]
// Run `pnpm build` first: it imports the packages' and the bench's dist.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, signature, silentLogger } from '@machinery/core';
import { Redis } from 'ioredis';
// The bench's own percentile (nearest rank) and key cleanup, so the figures read as RESULTS.md's do.
import { deleteKeys } from '../dist/redis-info.js';
import { percentile, sorted } from '../dist/stats.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '500' },
    url: { type: 'string', default: 'redis://127.0.0.1:6391' },
    queue: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const url = values.url;
const queue = values.queue ?? `lat${process.pid}`;
const n = Number(values.n);
const now = () => performance.timeOrigin + performance.now();

function makeServer() {
  const broker = new RedisBroker({ url, prefix: `${queue}:`, defaultQueue: queue, logger: silentLogger });
  const backend = new RedisBackend({ url, prefix: `${queue}:`, logger: silentLogger });
  return new Server({ broker, backend, logger: silentLogger });
}

if (values.child) {
  const server = makeServer();
  const starts = [];
  server.register(
    defineTask('stamp', (sentAt) => {
      starts.push(now() - sentAt);
    }),
  );
  const worker = server.worker({ concurrency: 50, handleSignals: false, logger: silentLogger });
  let done = 0;
  const stored = [];
  // 'succeeded' fires once the outcome is stored (and acknowledged): what is left of send→result after
  // it is the way back to the producer.
  worker.on('succeeded', ({ signature: sig }) => {
    stored.push(now() - Number(sig.args[0].value));
    if (++done === n) {
      void server.close().then(() => process.send({ starts, stored }));
    }
  });
  await worker.start();
  process.send({ ready: true });
} else {
  const proc = fork(fileURLToPath(import.meta.url), [
    '--child',
    '--n',
    String(n),
    '--url',
    url,
    '--queue',
    queue,
  ]);
  const inbox = [];
  let waiting;
  proc.on('message', (m) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve(m);
    } else inbox.push(m);
  });
  const next = () =>
    new Promise((resolve) => {
      if (inbox.length > 0) resolve(inbox.shift());
      else waiting = resolve;
    });
  await next();
  const server = makeServer();
  const published = [];
  const results = [];
  const interval = 1000 / Number(values.rate);
  const t0 = now() + 50;
  for (let i = 0; i < n; i++) {
    const wait = t0 + i * interval - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = now();
    const r = await server.send(signature('stamp', [sentAt]));
    published.push(now() - sentAt);
    results.push(r.wait({ timeoutMs: 60_000 }).then(() => now() - sentAt));
  }
  const res = await Promise.all(results);
  const { starts, stored } = await next();
  await server.close();
  const redis = new Redis(url);
  await deleteKeys(redis, `${queue}:*`);
  redis.disconnect();
  const row = (a) => {
    const s = sorted(a);
    const at = (p) => +percentile(s, p).toFixed(2);
    return `p50 ${at(50)}  p90 ${at(90)}  p99 ${at(99)}  max ${at(100)}`;
  };
  console.log(`send resolved  ${row(published)}`);
  console.log(`send→start     ${row(starts)}`);
  console.log(`send→stored    ${row(stored)}`);
  console.log(`send→result    ${row(res)}`);
}
