import {
  appLogger,
  assertStandalone,
  logLevelFromEnv,
  positiveIntFromEnv,
  runMain,
  runWorkload,
} from '@machinery/app-shared';
import { connectFromEnv } from '@machinery/connect';
import { isMachineryError, MachineryError, Server } from '@machinery/core';

// The sample producer: connects to BROKER_URL / RESULT_BACKEND_URL, sends one of each kind of work
// and prints the results. Run a worker (apps/worker) against the same broker and backend first.
// Every failure ends in one line on stderr and a non-zero exit code (see README: "Exit codes").
await runMain(async () => {
  const logger = appLogger(logLevelFromEnv());
  assertStandalone('producer');
  const resultTimeoutMs = positiveIntFromEnv('RESULT_TIMEOUT_MS', 30_000);
  const connection = await connectFromEnv({ logger });
  const server = new Server({ ...connection, logger });
  const queue = connection.broker.defaultQueue;
  console.log(
    `producer: broker ${connection.urls.broker}, backend ${connection.urls.backend}, queue "${queue}"`,
  );
  try {
    await runWorkload(server, (line) => console.log(line), { resultTimeoutMs });
  } catch (err) {
    if (isMachineryError(err, 'ERR_RESULT_TIMEOUT')) {
      throw new MachineryError(
        'ERR_RESULT_TIMEOUT',
        `${err.message} The worker must consume queue "${queue}" with the same BROKER_URL and RESULT_BACKEND_URL.`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    await server.close();
  }
});
