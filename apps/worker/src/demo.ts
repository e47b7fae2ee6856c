import {
  appLogger,
  exampleTasks,
  heartbeat,
  logLevelFromEnv,
  runMain,
  runWorkload,
} from '@machinery/app-shared';
import { connectFromEnv } from '@machinery/connect';
import { Server } from '@machinery/core';

// `pnpm demo`: a producer and a worker in one process on the embedded in-memory broker and backend
// (or on BROKER_URL / RESULT_BACKEND_URL when set), printing what happened.
await runMain(async () => {
  const started = Date.now();
  const stamp = () => `${String(Date.now() - started).padStart(5)} ms`;
  // Quiet by default: the demo prints its own story; LOG_LEVEL=info or debug shows the adapters' logs.
  const logger = appLogger(process.env.LOG_LEVEL ? logLevelFromEnv() : 'warn');
  const connection = await connectFromEnv(
    { logger },
    { ...process.env, BROKER_URL: process.env.BROKER_URL || 'memory://' },
  );
  console.log(
    `Machinery for TypeScript — demo on broker ${connection.urls.broker}, backend ${connection.urls.backend}\n`,
  );

  const server = new Server({ ...connection, logger });
  server.register(...exampleTasks);
  const worker = server.worker({ concurrency: 8, handleSignals: false });
  worker.on('retried', ({ signature, error, delayMs }) =>
    console.log(`${stamp()}  ↻ ${signature.name} will retry in ${Math.round(delayMs)} ms: ${error}`),
  );
  worker.on('failed', ({ signature, error }) => console.log(`${stamp()}  ✗ ${signature.name}: ${error}`));
  let beats = 0;
  worker.on('succeeded', ({ signature }) => {
    if (signature.name === heartbeat.name) {
      beats++;
      console.log(`${stamp()}  ♥ periodic heartbeat #${beats}`);
    }
  });
  try {
    await worker.start();
    const schedule = server.schedule('@every 1s', 'demo-heartbeat', heartbeat.signature());
    await runWorkload(server, (line) => console.log(`${stamp()}  ${line}`));
    while (beats < 2) await new Promise((r) => setTimeout(r, 50));
    schedule.remove();
  } finally {
    await server.close();
  }
  console.log(`\n${stamp()}  done: every task above went producer → broker → worker → backend → result.`);
});
