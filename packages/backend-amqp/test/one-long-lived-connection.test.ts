import { signature, silentLogger, TaskStatus, toResult } from '@machinery/core';
import {
  AMQP_URL,
  closeAdmin,
  closeConnectionsNamed,
  connectionsNamed,
  deleteQueues,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBackend } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(closeAdmin);

it('stores every state over one long-lived connection (Go opens one per state write)', async () => {
  const name = `${uniqueNamespace('mtconn')}-backend`;
  const backend = new AmqpBackend({ url: AMQP_URL, connectionName: name, logger: silentLogger });
  cleanups.push(() => backend.close());
  const sigs = Array.from({ length: 20 }, (_, i) => signature('add', [i], { headers: {} }));
  cleanups.push(() => deleteQueues(sigs.map((s) => s.uuid)));
  await Promise.all(
    sigs.map(async (s) => {
      await backend.setStatePending(s);
      await backend.setStateStarted(s);
      await backend.setStateSuccess(s, [toResult(1)]);
    }),
  );
  const rows = await connectionsNamed(name);
  expect(rows).toHaveLength(1);
  // The confirm channel; reads open short-lived channels of their own and close them.
  expect(rows[0]?.channels).toBeLessThanOrEqual(2);
});

it('reconnects after RabbitMQ closes its connection, and goes on storing and reading states', async () => {
  const name = `${uniqueNamespace('mtconn')}-backend`;
  // The loss is observed through the log, not by polling isConnected: the backend may be connected
  // again before rabbitmqctl has even returned.
  const messages: string[] = [];
  const note = (_obj: unknown, msg?: unknown) => messages.push(String(msg));
  const backend = new AmqpBackend({
    url: AMQP_URL,
    connectionName: name,
    logger: { debug: note, info: note, warn: note, error: note },
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  cleanups.push(() => backend.close());
  const sig = signature('add', [1], { headers: {} });
  cleanups.push(() => deleteQueues([sig.uuid]));
  await backend.setStatePending(sig);
  expect(await closeConnectionsNamed(name)).toBe(1);
  await eventually(() => expect(messages).toContain('AMQP backend: RabbitMQ connection lost, reconnecting'));
  await backend.setStateSuccess(sig, [toResult(1)]);
  expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.SUCCESS);
  expect(backend.isConnected).toBe(true);
  expect(messages).toContain('AMQP backend: reconnected');
});
