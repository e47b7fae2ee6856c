import { createAdapters, exampleTasks, heartbeat, urlsFromEnv } from '@machinery/app-producer';
import { Server } from '@machinery/core';

// The sample worker: composes a Server from BROKER_URL / RESULT_BACKEND_URL / LOCK_URL, registers the
// example tasks, schedules a heartbeat every 10 s (one process fires it per tick, thanks to the lock)
// and consumes until SIGINT/SIGTERM.
const server = new Server(await createAdapters(urlsFromEnv()));
server.register(...exampleTasks);
server.schedule('@every 10s', 'heartbeat', heartbeat.signature());
const worker = server.worker({
  ...(process.env.QUEUE ? { queue: process.env.QUEUE } : {}),
  concurrency: Number(process.env.CONCURRENCY || 10),
});
worker.on('succeeded', ({ signature: s, durationMs }) =>
  console.log(`✓ ${s.name} ${s.uuid} ${durationMs.toFixed(1)} ms`),
);
worker.on('failed', ({ signature: s, error }) => console.log(`✗ ${s.name} ${s.uuid}: ${error}`));
worker.on('retried', ({ signature: s, delayMs }) =>
  console.log(`↻ ${s.name} ${s.uuid} again in ${Math.round(delayMs)} ms`),
);
worker.on('stopped', () => {
  void server.close();
});
await worker.start();
console.log(`worker consuming "${worker.queue}" with concurrency ${worker.concurrency}; Ctrl-C stops it`);
