// Flow control in one process: a rate limit per host, a concurrency limit per customer and a unique
// task. Across processes, pass `new RedisFlowControl({ url })` from @machinery/backend-redis instead.
// Run: pnpm --filter @machinery/core build && node --experimental-strip-types examples/flow-control.ts
// (Node ≥ 22.6), or import `main` from it.
import { fileURLToPath } from 'node:url';
import { defineTask, MemoryBackend, MemoryBroker, MemoryFlowControl, Server } from '@machinery/core';

/** Sends limited and unique tasks and reports what happened. */
export async function main(log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
  const server = new Server({
    broker: new MemoryBroker(),
    backend: new MemoryBackend(),
    flow: new MemoryFlowControl(),
  });
  // At most 2 fetches per host in any 200 ms: the others are handed back and come again when allowed.
  const fetchPage = defineTask('fetch', (url: string) => new URL(url).pathname, {
    rateLimit: { max: 2, perMs: 200, key: (url) => new URL(url).host },
  });
  // At most one report per customer at a time, across every worker sharing the flow store.
  const report = defineTask('report', (customer: string) => `report for ${customer}`, {
    concurrencyLimit: { max: 1, key: (customer) => customer, retryDelayMs: 20 },
  });
  // One welcome mail per user per minute, however many times it is sent.
  const welcome = defineTask('welcome', (user: string) => `welcome ${user}`, {
    unique: { forMs: 60_000, key: (user) => user },
  });
  server.register(fetchPage, report, welcome);
  await server.worker({ handleSignals: false }).start();

  const pages = await server.sendMany(
    ['/a', '/b', '/c', '/d'].map((p) => fetchPage.signature(`https://example.com${p}`)),
  );
  log(`fetched ${(await Promise.all(pages.map((r) => r.get({ timeoutMs: 5000 })))).join(' ')}`);
  const reports = await server.sendMany([report.signature('acme'), report.signature('acme')]);
  log((await Promise.all(reports.map((r) => r.get({ timeoutMs: 5000 })))).join(', '));
  const first = await server.send(welcome.signature('ada'));
  const again = await server.send(welcome.signature('ada'));
  log(`duplicate answered with the first task: ${again.taskUUID === first.taskUUID}`);
  await server.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
