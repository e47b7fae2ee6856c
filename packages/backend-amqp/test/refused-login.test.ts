import { signature } from '@machinery/core';
import { AMQP_URL, recordingLogger } from '@machinery/test-services';
import { afterEach, expect, it } from 'vitest';
import { AmqpBackend } from '../src/index.js';

// A wrong password or an unknown vhost is reported at once, naming the cause — not retried for
// connectTimeoutMs as if RabbitMQ were down. The timeout is far beyond the test's own, so a backend
// that waited it out would fail the test.
const NEVER_MS = 3_600_000;

const open: AmqpBackend[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

function backend(user: string, password: string, vhost = ''): AmqpBackend {
  const url = new URL(AMQP_URL);
  url.username = user;
  url.password = password;
  url.pathname = `/${vhost}`;
  const b = new AmqpBackend({ url: url.toString(), connectTimeoutMs: NEVER_MS, logger: recordingLogger() });
  open.push(b);
  return b;
}

it('fails the first write and read at once when RabbitMQ refuses the password', async () => {
  const b = backend('guest', 'not-the-password');
  const sig = signature('add', [1, 2], { headers: {} });
  const login = /RabbitMQ refused the login for user guest: wrong user or password/;
  await expect(b.setStatePending(sig)).rejects.toThrow(login);
  await expect(b.getState(sig.uuid)).rejects.toThrow(login);
});

it('fails the first write at once when the vhost does not exist', async () => {
  const b = backend('guest', 'guest', 'machinery-no-such-vhost');
  await expect(b.setStatePending(signature('add', [1, 2], { headers: {} }))).rejects.toThrow(
    /vhost machinery-no-such-vhost does not exist/,
  );
});
