import { brokerSuite } from '@machinery/testing';
import { cleanup, injectRaw, makeBroker } from './sqs.js';

brokerSuite({
  name: 'SqsBroker',
  create: (ctx) => makeBroker(ctx),
  injectRaw,
  cleanup,
  // SQS keeps message groups on FIFO queues only, whose names end in .fifo.
  fifoQueue: ({ namespace }) => `${namespace}_groups.fifo`,
});
