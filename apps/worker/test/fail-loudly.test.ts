import { freePort } from '@machinery/test-services';
import { describe, expect, it } from 'vitest';
import { type AppExit, lastLine, runApp } from './run-app.js';

// Issue #11: every misconfiguration or unreachable service ends the sample apps at start with one
// clear line on stderr and a non-zero exit code, never a hang, a stack trace or a silent default.
const REDIS = 'redis://127.0.0.1:6379';
const SQS = 'sqs://test:test@127.0.0.1:4566?region=us-east-1';

function expectOneLineFailure(exit: AppExit, code: number, line: RegExp | string): void {
  expect(exit.hung, `still running after the bound:\n${exit.stderr}`).toBe(false);
  expect(exit.code).toBe(code);
  const last = lastLine(exit.stderr);
  if (typeof line === 'string') expect(last).toBe(line);
  else expect(last).toMatch(line);
  expect(exit.stderr).not.toMatch(/^\s+at /m);
}

for (const app of ['producer', 'worker'] as const) {
  describe(`${app}: configuration errors exit 2 with one line`, () => {
    it('refuses an unsupported broker URL, naming the supported schemes, password masked', async () => {
      const exit = await runApp(app, { BROKER_URL: 'kafka://user:secret@127.0.0.1:9092' });
      expectOneLineFailure(
        exit,
        2,
        'error: BROKER_URL=kafka://user:***@127.0.0.1:9092 is not a supported broker URL: use memory://, redis://, rediss://, amqp://, amqps://, https://sqs…, sqs://, postgres://, postgresql://.',
      );
      expect(exit.stderr).not.toContain('secret');
    });

    it('refuses to run without BROKER_URL instead of using an in-process broker', async () => {
      expectOneLineFailure(
        await runApp(app, {}),
        2,
        /^error: BROKER_URL is not set: the .* set BROKER_URL=redis:\/\//,
      );
    });

    it('refuses an SQS broker without RESULT_BACKEND_URL instead of keeping results in memory', async () => {
      expectOneLineFailure(
        await runApp(app, { BROKER_URL: SQS }),
        2,
        'error: BROKER_URL=sqs://test:***@127.0.0.1:4566?region=us-east-1 cannot store results and RESULT_BACKEND_URL is not set: set RESULT_BACKEND_URL to redis://, memcache://, postgres:// or amqp://.',
      );
    });

    it('refuses RESULT_BACKEND_URL=memory:// with a network broker', async () => {
      expectOneLineFailure(
        await runApp(app, { BROKER_URL: REDIS, RESULT_BACKEND_URL: 'memory://' }),
        2,
        /^error: RESULT_BACKEND_URL=memory:\/\/ keeps results inside this process/,
      );
    });

    it('refuses an unknown LOG_LEVEL', async () => {
      expectOneLineFailure(
        await runApp(app, { BROKER_URL: REDIS, LOG_LEVEL: 'loud' }),
        2,
        'error: LOG_LEVEL=loud is not a log level: use debug, info, warn, error, silent.',
      );
    });
  });

  describe(`${app}: services that are down or refuse exit 1 at start with one line`, () => {
    it('reports a broker that is down', async () => {
      const port = await freePort();
      expectOneLineFailure(
        await runApp(app, { BROKER_URL: `redis://127.0.0.1:${port}` }),
        1,
        new RegExp(`^error: BROKER_URL=redis://127\\.0\\.0\\.1:${port} .*ECONNREFUSED`),
      );
    });

    it('reports a result backend that is down', async () => {
      const port = await freePort();
      expectOneLineFailure(
        await runApp(app, { BROKER_URL: REDIS, RESULT_BACKEND_URL: `memcache://127.0.0.1:${port}` }),
        1,
        new RegExp(
          `^error: RESULT_BACKEND_URL=memcache://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`,
        ),
      );
    });

    it('reports a refused AMQP password with RabbitMQ’s reason, password masked', async () => {
      const exit = await runApp(app, { BROKER_URL: 'amqp://guest:wrong-secret@127.0.0.1:5672' });
      expectOneLineFailure(
        exit,
        1,
        /^error: BROKER_URL=amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672 .*ACCESS.REFUSED/,
      );
      expect(exit.stderr).not.toContain('wrong-secret');
    });

    it('reports an unknown AMQP vhost by name', async () => {
      expectOneLineFailure(
        await runApp(app, {
          BROKER_URL: 'amqp://guest:guest@127.0.0.1:5672/no-such-vhost',
          RESULT_BACKEND_URL: REDIS,
        }),
        1,
        /^error: BROKER_URL=amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672\/no-such-vhost .*vhost/i,
      );
    });
  });
}
