import { defineTask, type Logger, MemoryBackend, Server, TaskStatus } from '@machinery/core';
import { eventually } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import type { SqsBroker } from '../src/index.js';
import { inspectQueue, makeBroker, recordingLogger, useTestContext } from './sqs.js';

const current = useTestContext();

const fails = defineTask('fails', () => {
  throw new Error('boom');
});
const works = defineTask('works', () => 'ok');

async function serve(broker: SqsBroker, backend: MemoryBackend, logger: Logger): Promise<Server> {
  const server = current().closer.add(new Server({ broker, backend, logger }));
  server.register(fails, works);
  await server.worker({ handleSignals: false }).start();
  return server;
}

async function messagesIn(queue: string): Promise<number> {
  const q = await inspectQueue(queue);
  return q.ready.length + q.delayed.length + q.inflight.length;
}

describe('SqsBroker stopTaskDeletionOnError', () => {
  it('keeps a failed task in SQS, so it comes back until maxReceiveCount dead-letters it', async () => {
    const t = current();
    const backend = new MemoryBackend();
    const logger = recordingLogger();
    const broker = makeBroker(t.ctx, { outcomes: backend, maxReceiveCount: 2, logger });
    const server = await serve(broker, backend, logger);
    const sig = fails.signature();
    sig.stopTaskDeletionOnError = true;
    await server.send(sig);
    const dead = await eventually(
      async () => {
        const list = await broker.deadLetters();
        expect(list).toHaveLength(1);
        return list;
      },
      { timeoutMs: 20_000 },
    );
    expect(dead[0]?.reason).toMatch(/received 3 times without being acknowledged/);
    expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.FAILURE);
  });

  it('deletes a flagged task that succeeded, and a failed one that is not flagged', async () => {
    const t = current();
    const backend = new MemoryBackend();
    const logger = recordingLogger();
    const broker = makeBroker(t.ctx, { outcomes: backend, logger });
    const server = await serve(broker, backend, logger);
    const ok = works.signature();
    ok.stopTaskDeletionOnError = true;
    await server.send(ok);
    await server.send(fails.signature());
    await eventually(async () => {
      expect((await backend.getState(ok.uuid))?.state).toBe(TaskStatus.SUCCESS);
      expect(await messagesIn(broker.defaultQueue)).toBe(0);
    });
  });

  it('deletes a flagged failed task, with a warning, when the broker has no outcomes reader', async () => {
    const t = current();
    const backend = new MemoryBackend();
    const logger = recordingLogger();
    const broker = makeBroker(t.ctx, { logger });
    const server = await serve(broker, backend, logger);
    const sig = fails.signature();
    sig.stopTaskDeletionOnError = true;
    await server.send(sig);
    await eventually(async () => {
      expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.FAILURE);
      expect(await messagesIn(broker.defaultQueue)).toBe(0);
    });
    expect(logger.lines.some((l) => /no `outcomes` option/.test(l.msg))).toBe(true);
  });
});
