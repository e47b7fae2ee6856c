import { signature } from '@machinery/core';
import { AMQP_URL, recordingLogger } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions } from './support.js';

// A wrong password or an unknown vhost is reported at once, naming the cause — not retried for
// connectTimeoutMs/publishTimeoutMs as if RabbitMQ were down. The timeouts are far beyond the test's
// own, so a broker that waited them out would fail the test.
const NEVER_MS = 3_600_000;

const open: AmqpBroker[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

function broker(user: string, password: string, vhost = ''): AmqpBroker {
  const url = new URL(AMQP_URL);
  url.username = user;
  url.password = password;
  url.pathname = `/${vhost}`;
  const b = new AmqpBroker({
    ...brokerOptions(uniqueNamespace('mtrefused')),
    url: url.toString(),
    connectTimeoutMs: NEVER_MS,
    publishTimeoutMs: NEVER_MS,
    logger: recordingLogger(),
  });
  open.push(b);
  return b;
}

it('fails consume() and the first publish at once when RabbitMQ refuses the password', async () => {
  const b = broker('guest', 'not-the-password');
  const login = /RabbitMQ refused the login for user guest: wrong user or password/;
  await expect(b.consume(b.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 })).rejects.toThrow(login);
  await expect(b.publish(signature('add', [1, 2], { headers: {} }))).rejects.toThrow(login);
});

it('fails the first publish and consume() at once when the vhost does not exist', async () => {
  const b = broker('guest', 'guest', 'machinery-no-such-vhost');
  const vhost = /vhost machinery-no-such-vhost does not exist/;
  await expect(b.publish(signature('add', [1, 2], { headers: {} }))).rejects.toThrow(vhost);
  await expect(b.consume(b.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 })).rejects.toThrow(vhost);
});
