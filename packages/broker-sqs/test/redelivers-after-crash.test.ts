import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signature } from '@machinery/core';
import { eventually } from '@machinery/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { makeBroker, SQS_ENDPOINT, useTestContext } from './sqs.js';

const current = useTestContext();
const fixture = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Report {
  type: 'ready' | 'started' | 'succeeded';
  uuid?: string;
  attempt?: number;
}

function spawnWorker(queue: string, reports: Report[]): Promise<ChildProcess> {
  const child = fork(fixture, [], {
    env: {
      ...process.env,
      SQS_ENDPOINT,
      QUEUE: queue,
      VISIBILITY_MS: '1000',
      TASK_MS: '400',
      CONCURRENCY: '2',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The AWS SDK warns about Node 20 in every process; the test output needs it once at most.
    execArgv: ['--no-warnings'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.on('message', (m: Report) => {
      reports.push(m);
      if (m.type === 'ready') resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

describe('SqsBroker crash recovery', () => {
  it('finishes every task after a worker is SIGKILLed mid-task: its messages return after the visibility timeout', async () => {
    const t = current();
    const producer = t.closer.add(makeBroker(t.ctx));
    const fromDoomed: Report[] = [];
    const doomed = await spawnWorker(producer.defaultQueue, fromDoomed);
    const sigs = Array.from({ length: 12 }, (_, i) => signature('slow_step', [i], { headers: {} }));
    await producer.publishMany(sigs);
    await eventually(() => expect(fromDoomed.some((r) => r.type === 'started')).toBe(true), {
      timeoutMs: 10_000,
    });
    doomed.kill('SIGKILL');
    const killedMidTask = fromDoomed
      .filter((r) => r.type === 'started')
      .map((r) => r.uuid)
      .filter((u) => !fromDoomed.some((r) => r.type === 'succeeded' && r.uuid === u));
    expect(killedMidTask.length).toBeGreaterThan(0);

    const fromSurvivor: Report[] = [];
    await spawnWorker(producer.defaultQueue, fromSurvivor);
    const done = () =>
      new Set(
        [...fromDoomed, ...fromSurvivor].filter((r) => r.type === 'succeeded').map((r) => r.uuid as string),
      );
    await eventually(() => expect(done().size).toBe(sigs.length), { timeoutMs: 30_000, intervalMs: 100 });
    expect([...done()].sort()).toEqual(sigs.map((s) => s.uuid).sort());
    // The interrupted tasks ran again on the survivor, as redeliveries.
    for (const uuid of killedMidTask) {
      const rerun = fromSurvivor.find((r) => r.type === 'started' && r.uuid === uuid);
      expect(rerun?.attempt).toBeGreaterThanOrEqual(2);
    }
  });
});
