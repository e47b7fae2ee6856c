import { randomUUID } from 'node:crypto';
import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { chord, defineTask, group, Server, signature, silentLogger } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, expect, it } from 'vitest';
import { machineryMetrics, machineryTracing } from '../src/index.js';
import {
  eventually,
  memoryMetrics,
  memoryTracing,
  parentOf,
  pointValue,
  settled,
  useContextManager,
} from './telemetry.js';

useContextManager();

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

it('a chain and a chord on the Redis broker and backend form one trace, from the producer to the chord callback', async () => {
  const prefix = prefixOf(`otel-${randomUUID()}`);
  const queue = `otel_${randomUUID()}`;
  const admin = rawClient(REDIS_URL);
  cleanup.push(
    () => void admin.disconnect(),
    () => deleteKeys(admin, prefix),
  );
  const traces = memoryTracing();
  const meters = memoryMetrics();
  const broker = new RedisBroker({ url: REDIS_URL, prefix, defaultQueue: queue });
  const tracing = machineryTracing({ tracerProvider: traces.provider, defaultQueue: broker.defaultQueue });
  const taskMetrics = machineryMetrics({ meterProvider: meters.provider, broker, depthIntervalMs: 0 });
  const server = new Server({
    broker,
    backend: new RedisBackend({ url: REDIS_URL, prefix }),
    logger: silentLogger,
    middleware: { publish: [tracing.publish, taskMetrics.publish], task: [tracing.task, taskMetrics.task] },
  });
  cleanup.push(
    () => server.close(),
    () => taskMetrics.close(),
  );
  const add = defineTask('otel_add', (a: number, b: number) => a + b);
  const square = defineTask('otel_square', (a: number) => a * a);
  const sum = defineTask('otel_sum', (...xs: number[]) => xs.reduce((a, b) => a + b, 0));
  server.register(add, square, sum);
  await server.worker({ handleSignals: false, concurrency: 2 }).start();

  // In one request: the chain add(1, 2) → square, then the chord sum(square(2), square(3)).
  const finale = chord(group(square.signature(2), square.signature(3)), signature('otel_sum', []));
  const tracer = traces.provider.getTracer('test');
  const first = add.signatureWith({ onSuccess: [signature('otel_square', [])] }, 1, 2);
  const result = await tracer.startActiveSpan('request', async (request) => {
    try {
      const r = await server.send(first);
      await r.get({ timeoutMs: 15_000 });
      return await server.sendChord(finale);
    } finally {
      request.end();
    }
  });
  expect(await result.get({ timeoutMs: 15_000 })).toBe(13);
  const spans = () => traces.spans();
  const of = (name: string) => spans().filter((s) => s.attributes['machinery.task.name'] === name);
  await eventually(() => of('otel_sum').length === 2 && of('otel_square').length === 6, 'every span', 20_000);

  const all = spans();
  const request = all.find((s) => s.name === 'request') as ReadableSpan;
  expect(new Set(all.map((s) => s.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]));
  const ancestry = (span: ReadableSpan): string[] => {
    const names: string[] = [];
    for (let s: ReadableSpan | undefined = span; s; s = byId.get(parentOf(s) ?? '')) names.push(s.name);
    return names;
  };
  for (const span of all) expect(span.name === 'request' || ancestry(span).at(-1) === 'request').toBe(true);

  // The chain: add's process span sends square as a callback.
  const addProcess = of('otel_add').find((s) => s.kind === SpanKind.CONSUMER) as ReadableSpan;
  expect(addProcess.name).toBe(`process ${queue}`);
  const squareCallbackSend = of('otel_square').find(
    (s) => s.attributes['machinery.publish.origin'] === 'callback',
  );
  expect(parentOf(squareCallbackSend as ReadableSpan)).toBe(addProcess.spanContext().spanId);
  // The chord: its callback is sent by a member's process span and runs as its child.
  const sumSend = of('otel_sum').find((s) => s.kind === SpanKind.PRODUCER) as ReadableSpan;
  const sumProcess = of('otel_sum').find((s) => s.kind === SpanKind.CONSUMER) as ReadableSpan;
  const memberProcesses = of('otel_square').filter(
    (s) => s.kind === SpanKind.CONSUMER && s.attributes['machinery.group.uuid'] !== undefined,
  );
  expect(memberProcesses).toHaveLength(2);
  expect(memberProcesses.map((s) => s.spanContext().spanId)).toContain(parentOf(sumSend));
  expect(parentOf(sumProcess)).toBe(sumSend.spanContext().spanId);
  expect(ancestry(sumProcess)).toEqual([
    `process ${queue}`,
    `send ${queue}`,
    `process ${queue}`,
    `send ${queue}`,
    'request',
  ]);

  const processed = await settled(
    async () =>
      pointValue(await meters.points('machinery.tasks.processed'), {
        'machinery.task.name': 'otel_square',
        'machinery.task.outcome': 'succeeded',
      }),
    3,
  );
  expect(processed).toBe(3);
  expect(
    pointValue(await meters.points('machinery.queue.pending'), { 'messaging.destination.name': queue }),
  ).toBe(0);
});
