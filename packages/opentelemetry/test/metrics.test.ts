import {
  defineTask,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  RetryLater,
  Server,
  signature,
  silentLogger,
  type TaskMiddleware,
  TaskStatus,
} from '@machinery/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MachineryMetricsOptions, machineryMetrics } from '../src/index.js';
import { eventually, histogramCount, memoryMetrics, pointValue, settled } from './telemetry.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const GET = { timeoutMs: 10_000 };

function setup(options: Omit<MachineryMetricsOptions, 'meterProvider'> = {}, inner: TaskMiddleware[] = []) {
  const telemetry = memoryMetrics();
  const broker = new MemoryBroker();
  const taskMetrics = machineryMetrics({ meterProvider: telemetry.provider, broker, ...options });
  const server = new Server({
    broker,
    backend: new MemoryBackend(),
    control: new MemoryControlPlane(),
    logger: silentLogger,
    middleware: { publish: [taskMetrics.publish], task: [taskMetrics.task, ...inner] },
  });
  cleanup.push(
    () => server.close(),
    () => taskMetrics.close(),
  );
  return { server, broker, taskMetrics, ...telemetry };
}

describe('task metrics', () => {
  it('counts sends and outcomes by task and queue, times runs and waits, tracks running tasks', async () => {
    const { server, points } = setup();
    const add = defineTask('add', (a: number, b: number) => a + b);
    const broken = defineTask('broken', () => {
      throw new Error('out of order');
    });
    let flakyRuns = 0;
    const flaky = defineTask('flaky', () => {
      if (++flakyRuns === 1) throw new RetryLater(5);
      return 'ok';
    });
    const revocable = defineTask('revocable', () => 1);
    server.register(add, broken, flaky, revocable);
    const revoked = revocable.signature();
    await server.revoke(revoked.uuid, { reason: 'not needed' });
    await server.worker({ handleSignals: false, concurrency: 2 }).start();

    const results = await Promise.all([
      server.send(add.signature(1, 1)),
      server.send(add.signature(2, 2)),
      server.send(add.signature(3, 3)),
      server.send(broken.signature()),
      server.send(flaky.signature()),
      server.send(revoked),
    ]);
    const states = await Promise.all(results.map((r) => r.wait(GET)));
    expect(states.map((s) => s.state)).toEqual([
      TaskStatus.SUCCESS,
      TaskStatus.SUCCESS,
      TaskStatus.SUCCESS,
      TaskStatus.FAILURE,
      TaskStatus.SUCCESS,
      TaskStatus.FAILURE,
    ]);

    const q = { 'messaging.destination.name': 'machinery_tasks', 'messaging.system': 'machinery' };
    const processedOf = async (name: string, outcome: string) =>
      pointValue(await points('machinery.tasks.processed'), {
        ...q,
        'machinery.task.name': name,
        'machinery.task.outcome': outcome,
      });
    await eventually(() => flakyRuns === 2, 'the retry to run');
    // The counters are updated as the middleware returns; the last may trail the stored result.
    const processedFlaky = await settled(() => processedOf('flaky', 'succeeded'), 1);

    expect(await processedOf('add', 'succeeded')).toBe(3);
    expect(await processedOf('broken', 'failed')).toBe(1);
    expect(await processedOf('flaky', 'retried')).toBe(1);
    expect(processedFlaky).toBe(1);
    expect(await processedOf('revocable', 'revoked')).toBe(1);
    expect(await processedOf('revocable', 'failed')).toBeUndefined();

    const sent = await points('machinery.tasks.sent');
    expect(pointValue(sent, { ...q, 'machinery.task.name': 'add', 'machinery.publish.origin': 'send' })).toBe(
      3,
    );
    expect(
      pointValue(sent, { ...q, 'machinery.task.name': 'flaky', 'machinery.publish.origin': 'send' }),
    ).toBe(1);
    expect(
      pointValue(sent, { ...q, 'machinery.task.name': 'flaky', 'machinery.publish.origin': 'retry' }),
    ).toBe(1);

    const durations = await points('machinery.task.duration');
    expect(
      histogramCount(
        pointValue(durations, { ...q, 'machinery.task.name': 'add', 'machinery.task.outcome': 'succeeded' }),
      ),
    ).toBe(3);
    const latencies = await points('machinery.task.latency');
    expect(histogramCount(pointValue(latencies, { ...q, 'machinery.task.name': 'add' }))).toBe(3);
    // The retry is a new message, so its wait is measured too.
    expect(histogramCount(pointValue(latencies, { ...q, 'machinery.task.name': 'flaky' }))).toBe(2);

    const running = await points('machinery.tasks.running');
    for (const name of ['add', 'broken', 'flaky', 'revocable'])
      expect(pointValue(running, { ...q, 'machinery.task.name': name })).toBe(0);
  });

  it('reports a task as running while it runs', async () => {
    const { server, points } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = false;
    const slow = defineTask('slow', async () => {
      started = true;
      await gate;
    });
    server.register(slow);
    await server.worker({ handleSignals: false }).start();
    const result = await server.send(slow.signature());
    await eventually(() => started, 'the task to start');
    const name = { 'machinery.task.name': 'slow' };
    expect(pointValue(await points('machinery.tasks.running'), name)).toBe(1);
    release();
    await result.get(GET);
    expect(await settled(async () => pointValue(await points('machinery.tasks.running'), name), 0)).toBe(0);
  });

  it('counts a run whose inner middleware threw as the failed attempt the worker makes of it', async () => {
    let throws = 1;
    const { server, points } = setup({}, [
      async (_ctx, next) => {
        if (throws-- > 0) throw new RetryLater(5, 'rate limited');
        await next();
      },
    ]);
    const t = defineTask('limited', () => 'ok');
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    expect(await (await server.send(t.signature())).get(GET)).toBe('ok');
    const processedOf = async (outcome: string) =>
      pointValue(await points('machinery.tasks.processed'), {
        'machinery.task.name': 'limited',
        'machinery.task.outcome': outcome,
      });
    expect(await settled(() => processedOf('succeeded'), 1)).toBe(1);
    expect(await processedOf('retried')).toBe(1);
  });

  it('stamps the send time into the headers', async () => {
    const { server } = setup();
    const sig = signature('stamped', []);
    const before = Date.now();
    await server.send(sig);
    expect(sig.headers?.['machinery-sent-at']).toBeGreaterThanOrEqual(before);
  });

  it('refuses bad depth options with what was wrong', () => {
    expect(() => machineryMetrics({ depthLimit: 0 })).toThrow(/depthLimit must be an integer ≥ 1, got 0/);
    expect(() => machineryMetrics({ depthIntervalMs: -1 })).toThrow(/depthIntervalMs must be an integer ≥ 0/);
  });
});

describe('queue depth gauges', () => {
  it('report pending, delayed and dead-lettered tasks by queue, read through the broker', async () => {
    const { server, points } = setup({ queues: ['waiting', 'machinery_tasks'], depthIntervalMs: 0 });
    for (let i = 0; i < 3; i++) await server.send(signature('idle', [], { routingKey: 'waiting' }));
    const later = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < 2; i++) await server.send(signature('idle', [], { routingKey: 'later', eta: later }));
    // A worker that knows no task dead-letters what it gets at once.
    await server.worker({ handleSignals: false, queue: 'graveyard', unregisteredTaskRequeues: 0 }).start();
    await server.send(signature('nobody', [], { routingKey: 'graveyard' }));
    const depth = async (name: string, queue: string) =>
      pointValue(await points(name), { 'messaging.destination.name': queue });
    expect(await settled(() => depth('machinery.queue.dead_letters', 'graveyard'), 1)).toBe(1);
    expect(await depth('machinery.queue.pending', 'waiting')).toBe(3);
    expect(await depth('machinery.queue.pending', 'machinery_tasks')).toBe(0);
    expect(await depth('machinery.queue.delayed', 'later')).toBe(2);
  });

  it('reads the broker at most once per interval however often metrics are collected', async () => {
    const { server, broker, points } = setup({ depthIntervalMs: 3_600_000 });
    let reads = 0;
    const pendingTasks = broker.pendingTasks.bind(broker);
    broker.pendingTasks = (queue, limit) => {
      reads++;
      return pendingTasks(queue, limit);
    };
    await server.send(signature('idle', []));
    expect(pointValue(await points('machinery.queue.pending'), {})).toBe(1);
    await server.send(signature('idle', []));
    expect(pointValue(await points('machinery.queue.pending'), {})).toBe(1);
    expect(reads).toBe(1);
  });

  it('counts at most depthLimit tasks of a queue', async () => {
    const { server, points } = setup({ depthIntervalMs: 0, depthLimit: 2 });
    for (let i = 0; i < 4; i++) await server.send(signature('idle', []));
    expect(pointValue(await points('machinery.queue.pending'), {})).toBe(2);
  });

  it('stops reading the broker once closed', async () => {
    const { broker, taskMetrics, points } = setup({ depthIntervalMs: 0 });
    let reads = 0;
    const pendingTasks = broker.pendingTasks.bind(broker);
    broker.pendingTasks = (queue, limit) => {
      reads++;
      return pendingTasks(queue, limit);
    };
    await points('machinery.queue.pending');
    expect(reads).toBe(1);
    taskMetrics.close();
    taskMetrics.close();
    await points('machinery.queue.pending');
    expect(reads).toBe(1);
  });

  it('leaves out what the broker cannot list', async () => {
    const { broker, points } = setup({ depthIntervalMs: 0 });
    Object.defineProperty(broker, 'capabilities', {
      value: { ...broker.capabilities, delayedInspection: false, deadLetterInspection: false },
    });
    expect(await points('machinery.queue.pending')).toHaveLength(1);
    expect(await points('machinery.queue.delayed')).toHaveLength(0);
    expect(await points('machinery.queue.dead_letters')).toHaveLength(0);
  });
});
