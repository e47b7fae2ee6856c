import { Server } from '@machinery/core';
import { createAdapters, urlsFromEnv } from './adapters.js';
import { runWorkload } from './workload.js';

// The sample producer: composes a Server from BROKER_URL / RESULT_BACKEND_URL and sends one of each
// kind of work. Run a worker (apps/worker) against the same broker and backend first.
const urls = urlsFromEnv();
if (urls.broker.startsWith('memory')) {
  console.error(
    'The producer alone cannot reach a worker over memory://. Run `pnpm demo`, or set BROKER_URL.',
  );
  process.exit(2);
}
const server = new Server(await createAdapters(urls));
try {
  await runWorkload(server, (line) => console.log(line));
} finally {
  await server.close();
}
