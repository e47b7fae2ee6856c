import { silentLogger } from '@machinery/core';
import { AMQP_URL, closeAdmin, ResultQueues, trackResultQueues } from '@machinery/test-services';
import { backendSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { AmqpBackend } from '../src/index.js';

const results = new ResultQueues();

afterAll(closeAdmin);

backendSuite({
  name: 'AmqpBackend',
  create: ({ namespace, resultsExpireIn }) =>
    trackResultQueues(
      new AmqpBackend({
        url: AMQP_URL,
        connectionName: `${namespace}-backend`,
        logger: silentLogger,
        ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
      }),
      results.of(namespace),
    ),
  cleanup: ({ namespace }) => results.delete(namespace),
});
