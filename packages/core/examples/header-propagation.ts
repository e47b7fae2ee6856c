// A request id travels from the producer to the task: a publish middleware writes it into the task's
// headers, a worker middleware reads it back and makes it the task's ambient context again.
// Run: pnpm --filter @machinery/core build && node --experimental-strip-types examples/header-propagation.ts
// (Node ≥ 22.6), or import `main` from it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import {
  defineTask,
  MemoryBackend,
  MemoryBroker,
  type PublishMiddleware,
  Server,
  type TaskMiddleware,
} from '@machinery/core';

/** The request being served, in the producer and — thanks to the middleware — in the task. */
const requestId = new AsyncLocalStorage<string>();

/** Producer side: stamps the current request id on every task sent while serving it. */
const stampRequestId: PublishMiddleware = async (ctx, next) => {
  const id = requestId.getStore();
  if (id !== undefined) ctx.headers['x-request-id'] = id;
  await next();
};

/** Worker side: runs the task inside the request id its producer stamped. */
const restoreRequestId: TaskMiddleware = async (ctx, next) => {
  const id = ctx.headers['x-request-id'];
  if (typeof id === 'string') await requestId.run(id, next);
  else await next();
};

/** Sends a task while "serving" request `req-7`; the task reports which request it works for. */
export async function main(log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
  const server = new Server({
    broker: new MemoryBroker(),
    backend: new MemoryBackend(),
    middleware: { publish: [stampRequestId], task: [restoreRequestId] },
  });
  const greet = defineTask('greet', (name: string) => `hello ${name}, for request ${requestId.getStore()}`);
  server.register(greet);
  await server.worker({ handleSignals: false }).start();
  const result = await requestId.run('req-7', () => server.send(greet.signature('Ada')));
  log(await result.get({ timeoutMs: 5000 }));
  await server.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
