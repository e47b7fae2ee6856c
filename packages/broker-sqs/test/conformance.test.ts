import { brokerSuite } from '@machinery/testing';
import { cleanup, injectRaw, makeBroker } from './sqs.js';

brokerSuite({ name: 'SqsBroker', create: (ctx) => makeBroker(ctx), injectRaw, cleanup });
