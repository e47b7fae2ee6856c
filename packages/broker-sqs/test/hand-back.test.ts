import { defineTask, MemoryBackend, Server, type TaskMiddleware, TaskStatus } from '@machinery/core';
import { eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import { makeBroker, recordingLogger, useTestContext } from './sqs.js';

const current = useTestContext();

const works = defineTask('works', () => 'ok');

it('a task handed back more often than maxReceiveCount still runs, and is never dead-lettered', async () => {
  const t = current();
  const backend = new MemoryBackend();
  const logger = recordingLogger();
  const broker = makeBroker(t.ctx, { outcomes: backend, maxReceiveCount: 2, logger });
  expect(broker.capabilities.requeueCountsTowardLimit).toBe(true);
  // What a full concurrency limit does: hand the task back, here five times, more than the limit.
  let handBacks = 0;
  const waitFiveTimes: TaskMiddleware = async (context, next) => {
    if (handBacks < 5) {
      handBacks++;
      context.handBack(50);
      return;
    }
    await next();
  };
  const server = t.closer.add(new Server({ broker, backend, logger, middleware: { task: [waitFiveTimes] } }));
  server.register(works);
  await server.worker({ handleSignals: false }).start();
  const sig = works.signature();
  await server.send(sig);
  await eventually(async () => expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.SUCCESS), {
    timeoutMs: 30_000,
  });
  expect(handBacks).toBe(5);
  expect(await broker.deadLetters()).toEqual([]);
});
