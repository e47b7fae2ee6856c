import { isMachineryError, signature, TaskStatus, toResult } from '@machinery/core';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { PostgresBackend } from '../src/index.js';
import { dropAllConnections, dropSchema, POSTGRES_URL, rawPool, schemaOf } from './helpers.js';

const raw = rawPool();
const closer = new Closer();
let namespace = '';
beforeEach(() => {
  namespace = uniqueNamespace();
});
afterEach(async () => {
  await closer.closeAll();
  await dropSchema(raw, namespace);
});
afterAll(() => raw.end());

const backend = () => closer.add(new PostgresBackend({ url: POSTGRES_URL, schema: schemaOf(namespace) }));
const task = () => signature('add', [1, 2], { headers: {} });

it('a waiter gets the result stored after every connection was cut (LISTEN re-established)', async () => {
  const waiting = backend();
  const writer = backend();
  const s = task();
  await writer.setStatePending(s);
  const result = waiting.waitForState(s.uuid, new AbortController().signal);
  // The waiter is listening once its first look has been made.
  await waiting.getState(s.uuid);
  await dropAllConnections(raw);
  // The writer's pool may still hand out a cut connection once.
  await eventually(() => writer.setStateSuccess(s, [toResult(3)]), { timeoutMs: 10_000, intervalMs: 100 });
  const state = await result;
  expect(state.state).toBe(TaskStatus.SUCCESS);
});

it('a waiter gets a result that was stored before it started waiting', async () => {
  const b = backend();
  const s = task();
  await b.setStateFailure(s, 'already failed');
  const state = await b.waitForState(s.uuid, new AbortController().signal);
  expect(state.error).toBe('already failed');
});

it('close() rejects pending waiters with ERR_CLOSED and ends its own pool only', async () => {
  const b = new PostgresBackend({ url: POSTGRES_URL, schema: schemaOf(namespace) });
  const s = task();
  await b.setStatePending(s);
  // Its rejection is taken as a value at once: it arrives during close().
  const outcome = b.waitForState(s.uuid, new AbortController().signal).then(
    () => undefined,
    (err: unknown) => err,
  );
  await b.getState(s.uuid);
  await b.close();
  expect(isMachineryError(await outcome, 'ERR_CLOSED')).toBe(true);
  expect(b.pool.ended).toBe(true);
  await expect(b.getState(s.uuid)).rejects.toSatisfy((err: unknown) => isMachineryError(err, 'ERR_CLOSED'));

  const given = new PostgresBackend({ pool: raw, schema: schemaOf(namespace) });
  await given.getState(s.uuid);
  await given.close();
  expect(raw.ended).toBe(false);
});
