// Worker middleware that times every task and logs its outcome: wrap `next()`, read `ctx.outcome`.
// Run: pnpm --filter @machinery/core build && node --experimental-strip-types examples/timing.ts
// (Node ≥ 22.6), or import `main` from it.
import { fileURLToPath } from 'node:url';
import { defineTask, MemoryBackend, MemoryBroker, Server, type TaskMiddleware } from '@machinery/core';

/** A worker middleware that reports each task's name, outcome, attempt and duration through `log`. */
export function timing(log: (line: string) => void): TaskMiddleware {
  return async (ctx, next) => {
    const start = performance.now();
    await next();
    const ms = (performance.now() - start).toFixed(1);
    log(`${ctx.signature.name}: ${ctx.outcome?.status} after ${ms} ms (attempt ${ctx.attempt})`);
  };
}

/** Runs one task that succeeds and one that fails on a worker with the timing middleware. */
export async function main(log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
  const server = new Server({
    broker: new MemoryBroker(),
    backend: new MemoryBackend(),
    middleware: { task: [timing(log)] },
  });
  const add = defineTask('add', (a: number, b: number) => a + b);
  const broken = defineTask('broken', () => {
    throw new Error('out of order');
  });
  server.register(add, broken);
  await server.worker({ handleSignals: false }).start();
  log(`add(1, 2) = ${await (await server.send(add.signature(1, 2))).get({ timeoutMs: 5000 })}`);
  const failed = await (await server.send(broken.signature())).wait({ timeoutMs: 5000 });
  log(`broken: ${failed.state} (${failed.error})`);
  await server.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
