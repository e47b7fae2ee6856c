// A sibling adapter, read from its source so this package needs no dependency on it.
import { RedisBackend } from '@machinery/backend-redis';
import { scenarioSuite } from '@machinery/testing';
import { afterAll, beforeAll } from 'vitest';
import { PrivateFauxqs } from './private-fauxqs.js';
import { sqsTools } from './sqs.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// Its own SQS server, as in conformance-memcache-backend.test.ts, so the broker-restart scenario can run.
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
  name: 'SqsBroker + RedisBackend',
  create: (ctx) => ({
    broker: tools.makeBroker(ctx),
    // Keys under the test's namespace; they expire on their own (the suite cannot list them here).
    backend: new RedisBackend({ url: REDIS_URL, prefix: `{${ctx.namespace}}:`, resultsExpireIn: 600 }),
  }),
  injectRaw: (ctx, queue, body) => tools.injectRaw(ctx, queue, body),
  cleanup: (ctx) => tools.cleanup(ctx),
  restartBroker: () => sqs.restart(),
});
