import { randomUUID } from 'node:crypto';
import { RedisControlPlane } from '@machinery/backend-redis';
import { closeAdmin, deleteQueues, REDIS_URL, rawClient } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { lastLine, runApp, startWorker } from './run-app.js';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const amqpQueues: string[] = [];
const redisKeys: string[] = [];

afterAll(async () => {
  await deleteQueues(amqpQueues);
  await closeAdmin();
  const redis = rawClient(REDIS_URL);
  if (redisKeys.length > 0) await redis.del(...redisKeys);
  await redis.quit();
});

function uniqueQueue(): string {
  return `apps_${randomUUID().slice(0, 8)}`;
}

describe('sample apps as separate processes', () => {
  it('runs the workload through a worker over AMQP with no RESULT_BACKEND_URL (results on the broker’s server)', async () => {
    const QUEUE = uniqueQueue();
    amqpQueues.push(QUEUE);
    const env = { BROKER_URL: AMQP, QUEUE };
    const worker = await startWorker(env);
    try {
      const producer = await runApp('producer', env, 60_000);
      expect(producer.hung).toBe(false);
      expect(producer.code, producer.stderr).toBe(0);
      expect(producer.stdout).toContain(
        `producer: broker amqp://guest:***@127.0.0.1:5672, backend amqp://guest:***@127.0.0.1:5672, queue "${QUEUE}"`,
      );
      expect(producer.stdout).toMatch(/add\(1, 2\)\s+= 3\n/);
      expect(producer.stdout).toMatch(/multiply\(group of adds\)\s+= 88\n/);
      expect(producer.stderr).toContain('RESULT_BACKEND_URL is not set: results are stored on the broker');
    } finally {
      // The app listens to SIGTERM itself, so once the worker stopped and the server closed it ends with 0.
      const exit = await worker.stop();
      expect(exit.hung, exit.stderr).toBe(false);
      expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 0, signal: null });
    }
  });

  it('registers the worker with the control plane on the backend’s Redis: it is listed, pausable, and says how to watch it', async () => {
    const QUEUE = uniqueQueue();
    redisKeys.push(QUEUE);
    const worker = await startWorker({ BROKER_URL: REDIS_URL, QUEUE });
    const control = new RedisControlPlane({ url: REDIS_URL });
    const ours = async () => (await control.workers.list()).filter((w) => w.queue === QUEUE);
    try {
      await eventually(async () => expect(await ours()).toMatchObject([{ queue: QUEUE, paused: false }]), {
        timeoutMs: 20_000,
      });
      await control.pauses.pause(QUEUE);
      await eventually(async () => expect(await ours()).toMatchObject([{ paused: true }]), {
        timeoutMs: 20_000,
      });
      await control.pauses.resume(QUEUE);
    } finally {
      await control.close();
      const exit = await worker.stop();
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stdout).toContain(
        `control plane ${REDIS_URL}: watch with \`pnpm machinery workers\` and \`pnpm machinery events --follow\``,
      );
    }
  });

  it('ends the producer with one line naming the queue when no worker answers', async () => {
    const QUEUE = uniqueQueue();
    redisKeys.push(QUEUE);
    const exit = await runApp('producer', { BROKER_URL: REDIS_URL, QUEUE, RESULT_TIMEOUT_MS: '500' });
    expect(exit.hung).toBe(false);
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toMatch(
      new RegExp(
        `^error: Timed out after 500 ms waiting for .* The worker must consume queue "${QUEUE}" with the same BROKER_URL and RESULT_BACKEND_URL\\.$`,
      ),
    );
  });

  it('pnpm demo runs producer and worker in one process on memory:// by default', async () => {
    const exit = await runApp('demo', {}, 60_000);
    expect(exit.hung).toBe(false);
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stdout).toContain('demo on broker memory://, backend memory://');
    expect(exit.stdout).toMatch(/chain .*= 60\n/);
    expect(exit.stdout).toContain(
      'done: every task above went producer → broker → worker → backend → result.',
    );
  });
});
