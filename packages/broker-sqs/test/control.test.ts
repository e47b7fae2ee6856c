import { controlScenarioSuite } from '@machinery/testing';
import { cleanup, makeBroker } from './sqs.js';

// Revocation and pause on SQS: tasks travel through it; results and the control plane stay in memory,
// one store per test shared by its servers as processes share a server.

controlScenarioSuite({
  name: 'SqsBroker',
  adapters: (ctx) => ({
    broker: makeBroker(ctx),
  }),
  cleanup: async (ctx) => {
    await cleanup(ctx);
  },
});
