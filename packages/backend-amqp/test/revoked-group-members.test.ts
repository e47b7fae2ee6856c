import { signature, silentLogger, toResult } from '@machinery/core';
import { AMQP_URL, closeAdmin, deleteQueues } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBackend } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(closeAdmin);

it('counts a group member marked FAILURE by UUID alone (revoked while waiting) once its worker stores it with its group', async () => {
  const ns = uniqueNamespace('mtrev');
  const backend = new AmqpBackend({ url: AMQP_URL, connectionName: `${ns}-backend`, logger: silentLogger });
  cleanups.push(() => backend.close());
  const groupUUID = `group_${ns}`;
  const members = ['a', 'b'].map((n) => signature(n, [], { headers: {}, groupUUID, groupTaskCount: 2 }));
  cleanups.push(() => deleteQueues([groupUUID, `${groupUUID}_meta`, ...members.map((m) => m.uuid)]));
  await backend.initGroup(
    groupUUID,
    members.map((m) => m.uuid),
  );
  const [a, b] = members as [(typeof members)[number], (typeof members)[number]];
  await backend.setStatePending(a);
  // revokeTasks knows only the UUID: the group is unknown to this write, which cannot be counted.
  await backend.setStateFailure(signature('a', [], { uuid: a.uuid }), 'revoked');
  await backend.setStateSuccess(b, [toResult(1)]);
  expect(await backend.groupCompleted(groupUUID, 2)).toBe(false);
  // The worker receives the revoked member and stores its FAILURE with the group: now it counts.
  await backend.setStateFailure(a, 'revoked');
  expect(await backend.groupCompleted(groupUUID, 2)).toBe(true);
  // A redelivered duplicate of either still counts once.
  await backend.setStateFailure(a, 'revoked');
  await backend.setStateSuccess(b, [toResult(1)]);
  expect((await backend.groupTaskStates(groupUUID, 2)).map((s) => s.taskUUID)).toEqual(
    members.map((m) => m.uuid),
  );
  expect(await backend.groupCompleted(groupUUID, 3)).toBe(false);
});
