import { isMachineryError, signature, TaskStatus, toResult } from '@machinery/core';
import { dropAllPostgresConnections, POSTGRES_URL, schemaPerTest } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import { PostgresBackend } from '../src/index.js';

const db = schemaPerTest();
const { raw, closer } = db;

const backend = () => closer.add(new PostgresBackend({ url: POSTGRES_URL, schema: db.schema }));
const task = () => signature('add', [1, 2], { headers: {} });

it('a waiter gets the result stored after every connection was cut (LISTEN re-established)', async () => {
  const waiting = backend();
  const writer = backend();
  const s = task();
  await writer.setStatePending(s);
  const result = waiting.waitForState(s.uuid, new AbortController().signal);
  // The waiter is listening once its first look has been made.
  await waiting.getState(s.uuid);
  await dropAllPostgresConnections(raw);
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
  const b = new PostgresBackend({ url: POSTGRES_URL, schema: db.schema });
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

  const given = new PostgresBackend({ pool: raw, schema: db.schema });
  await given.getState(s.uuid);
  await given.close();
  expect(raw.ended).toBe(false);
});
