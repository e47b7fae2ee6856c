import { freePort } from '@machinery/test-services';
import { describe, expect, it } from 'vitest';
import { AMQP, machinery, REDIS } from './machinery.js';

// Short, so a test about a service that is down does not wait 5 s per check.
const FAST = ['--connect-timeout', '1000'];

function wrongPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

describe('wrong URLs, services that are down and refused credentials end in one line, a non-zero exit, no hang', () => {
  it('an unsupported scheme is a configuration error (exit 2)', async () => {
    const r = await machinery(['status', '--broker', 'kafka://user:s3cret@host:9092']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'machinery: broker URL kafka://user:***@host:9092 is not a supported broker URL: use memory://, redis://, rediss://, amqp://, amqps://, https://sqs…, sqs://, postgres://, postgresql://.',
    );
    expect(r.stderr + r.stdout).not.toContain('s3cret');
  });

  it('a URL from the environment is named by its variable', async () => {
    const r = await machinery(['status'], { BROKER_URL: REDIS, RESULT_BACKEND_URL: 'mongodb://h:27017' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^machinery: RESULT_BACKEND_URL=mongodb:\/\/h:27017 is not a supported result backend URL/,
    );
  });

  it('a Redis port nothing listens on fails with exit 1 after the connect timeout', async () => {
    const port = await freePort();
    const r = await machinery(['status', '--broker', `redis://127.0.0.1:${port}`, ...FAST]);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^machinery: broker URL redis://127\\.0\\.0\\.1:${port} did not answer within 1 s: .*ECONNREFUSED`,
      ),
    );
  });

  it('a memcached port nothing listens on fails every command that reads the backend', async () => {
    const port = await freePort();
    const r = await machinery([
      'task',
      'task_x',
      '--broker',
      REDIS,
      '--backend',
      `memcache://127.0.0.1:${port}`,
      ...FAST,
    ]);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^machinery: backend URL memcache://127\\.0\\.0\\.1:${port} is unreachable`),
    );
  });

  it('a refused RabbitMQ password fails with exit 1 and never prints the password', async () => {
    const url = wrongPassword(AMQP, 'hunter2-wrong');
    const r = await machinery(['status', '--broker', url, ...FAST]);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('refused the login');
    expect(r.stderr + r.stdout).not.toContain('hunter2');

    const json = await machinery(['status', '--broker', url, '--json', ...FAST]);
    expect(json.code).toBe(1);
    const error = JSON.parse(json.stdout).error;
    expect(error.code).toBe('ERR_CONNECTION');
    expect(json.stdout).not.toContain('hunter2');
  });

  it('URLs with credentials are printed masked', async () => {
    const r = await machinery(['status', '--broker', AMQP]);
    expect(r.code).toBe(0);
    const password = new URL(AMQP).password;
    expect(r.stdout).toContain(`broker:  ${wrongPassword(AMQP, '***')}`);
    if (password !== '') expect(r.stdout).not.toContain(`:${password}@`);
  });
});
