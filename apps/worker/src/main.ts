import {
  appLogger,
  assertStandalone,
  exampleTasks,
  heartbeat,
  logLevelFromEnv,
  positiveIntFromEnv,
  runMain,
} from '@machinery/app-shared';
import { connectFromEnv } from '@machinery/connect';
import { Server } from '@machinery/core';

// The sample worker: connects to BROKER_URL / RESULT_BACKEND_URL / LOCK_URL / CONTROL_URL (the
// control plane defaults to the backend's server, so the worker registers, heartbeats, honours pauses
// and revocations and publishes task events), registers the example tasks, schedules a heartbeat every 10 s (one process fires it per tick when LOCK_URL is shared) and
// consumes until SIGINT/SIGTERM. A service that is down or refuses at start ends it at once with one
// line on stderr and a non-zero exit code (see README: "Exit codes").
await runMain(async () => {
  const logger = appLogger(logLevelFromEnv());
  assertStandalone('worker');
  const concurrency = positiveIntFromEnv('CONCURRENCY', 10);
  const connection = await connectFromEnv({ logger });
  const server = new Server({ ...connection, logger });
  server.register(...exampleTasks);
  server.schedule('@every 10s', 'heartbeat', heartbeat.signature());
  const worker = server.worker({ concurrency });
  worker.on('succeeded', ({ signature: s, durationMs }) =>
    console.log(`✓ ${s.name} ${s.uuid} ${durationMs.toFixed(1)} ms`),
  );
  worker.on('failed', ({ signature: s, error }) => console.log(`✗ ${s.name} ${s.uuid}: ${error}`));
  worker.on('retried', ({ signature: s, delayMs }) =>
    console.log(`↻ ${s.name} ${s.uuid} again in ${Math.round(delayMs)} ms`),
  );
  // The worker stops on the first SIGINT/SIGTERM and aborts running tasks on a second. Listening to
  // them here too keeps the exit ours: once stopped, the server is closed and the process ends with
  // code 0 (README: "Exit codes"), instead of core raising the signal again (exit by signal, 143/130).
  const exitCleanly = () => {};
  process.on('SIGINT', exitCleanly);
  process.on('SIGTERM', exitCleanly);
  worker.on('stopped', () => {
    void server.close();
  });
  try {
    await worker.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  console.log(
    `worker: broker ${connection.urls.broker}, backend ${connection.urls.backend}, lock ${connection.urls.lock}`,
  );
  console.log(`worker consuming "${worker.queue}" with concurrency ${worker.concurrency}; Ctrl-C stops it`);
  if (connection.urls.control !== undefined) {
    console.log(
      `control plane ${connection.urls.control}: watch with \`pnpm machinery workers\` and \`pnpm machinery events --follow\` (same BROKER_URL; @machinery/cli)`,
    );
  } else {
    console.log(
      'no control plane (CONTROL_URL=none, or none in the backend package): revoke, pause, workers and events do not reach this worker',
    );
  }
});
