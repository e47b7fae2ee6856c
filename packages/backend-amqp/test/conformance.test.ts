import { silentLogger } from '@machinery/core';
import { backendSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { AmqpBackend } from '../src/index.js';
import { AMQP_URL, closeAdmin, deleteQueues, tracked } from './support.js';

const touched = new Map<string, Set<string>>();
const names = (ns: string) => touched.get(ns) ?? touched.set(ns, new Set()).get(ns) ?? new Set<string>();

afterAll(closeAdmin);

backendSuite({
  name: 'AmqpBackend',
  create: ({ namespace, resultsExpireIn }) =>
    tracked(
      new AmqpBackend({
        url: AMQP_URL,
        connectionName: `${namespace}-backend`,
        logger: silentLogger,
        ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
      }),
      names(namespace),
    ),
  cleanup: async ({ namespace }) => {
    await deleteQueues(names(namespace));
    touched.delete(namespace);
  },
});
