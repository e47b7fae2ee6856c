// A sibling adapter, read from its source so this package needs no dependency on it.
import { MemcacheBackend } from '@machinery/backend-memcache';
import { scenarioSuite } from '@machinery/testing';
import { afterAll, beforeAll } from 'vitest';
import { PrivateFauxqs } from './private-fauxqs.js';
import { sqsTools } from './sqs.js';

const MEMCACHE_SERVERS = process.env.MEMCACHE_SERVERS ?? '127.0.0.1:11211';

// The scenarios run on an SQS server of their own, so the broker-restart scenario can restart it
// without disturbing anyone else's tests on the shared one.
let sqs: PrivateFauxqs;
let tools: ReturnType<typeof sqsTools>;
beforeAll(async () => {
  sqs = await PrivateFauxqs.start();
  tools = sqsTools(sqs.endpoint);
});
afterAll(async () => {
  await sqs?.stop();
});

scenarioSuite({
  name: 'SqsBroker + MemcacheBackend',
  create: (ctx) => ({
    broker: tools.makeBroker(ctx),
    backend: new MemcacheBackend({
      servers: MEMCACHE_SERVERS,
      prefix: `${ctx.namespace}:`,
      resultsExpireIn: 600,
    }),
  }),
  injectRaw: (ctx, queue, body) => tools.injectRaw(ctx, queue, body),
  cleanup: (ctx) => tools.cleanup(ctx),
  restartBroker: () => sqs.restart(),
});
