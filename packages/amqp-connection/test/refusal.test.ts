import { isMachineryError, silentLogger } from '@machinery/core';
import { AMQP_URL, expectNoSecret, recordingLogger, SECRET } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { ConnectionManager, resolveAmqpUrls } from '../src/index.js';

// A refused login or vhost is a configuration error: link() must reject at once with the cause, not
// after its timeout as if RabbitMQ were down. The timeouts below are far beyond the test's own, so a
// manager that waited them out would fail the test.
const NEVER_MS = 3_600_000;

const open: ConnectionManager[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

function manager(url: string, logger = silentLogger): ConnectionManager {
  const m = new ConnectionManager({
    urls: resolveAmqpUrls(url, 'Test'),
    client: undefined,
    clientOptions: {},
    connectionName: 'machinery-tests-refusal',
    initialDelayMs: 50,
    maxDelayMs: 200,
    logger,
    role: 'test manager',
  });
  open.push(m);
  return m;
}

function withLogin(user: string, password: string, vhost = ''): string {
  const u = new URL(AMQP_URL);
  u.username = user;
  u.password = password;
  u.pathname = `/${vhost}`;
  return u.toString();
}

it('rejects at once, naming the user, when RabbitMQ refuses the password', async () => {
  const logger = recordingLogger();
  const m = manager(withLogin('guest', SECRET), logger);
  const err = await m.link(NEVER_MS).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
  expect((err as Error).message).toMatch(/RabbitMQ refused the login for user guest: wrong user or password/);
  // Later callers too, while the manager retries in the background.
  await expect(m.link(NEVER_MS)).rejects.toThrow(/wrong user or password/);
  await eventually(() =>
    expect(logger.lines.filter((l) => /refused the login/.test(String(l.msg))).length).toBeGreaterThan(1),
  );
  expectNoSecret([err], logger.lines);
});

it('rejects at once, naming the vhost, when the vhost does not exist', async () => {
  const m = manager(withLogin('guest', 'guest', 'machinery-no-such-vhost'));
  await expect(m.link(NEVER_MS)).rejects.toThrow(
    /RabbitMQ refused to open vhost machinery-no-such-vhost for user guest: vhost machinery-no-such-vhost does not exist/,
  );
});

it('connects with the right login (a working login is not mistaken for a refusal)', async () => {
  const link = await manager(AMQP_URL).link(NEVER_MS);
  expect(link.closed).toBe(false);
});
