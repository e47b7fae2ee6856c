import {
  chain,
  chord,
  defineTask,
  group,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  RetryLater,
  Server,
  signature,
  silentLogger,
  TaskStatus,
} from '@machinery/core';
import { SpanKind, SpanStatusCode, type TextMapPropagator, TraceFlags, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { type MachineryTracingOptions, machineryTracing } from '../src/index.js';
import { eventually, memoryTracing, parentOf, useContextManager } from './telemetry.js';

useContextManager();

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const GET = { timeoutMs: 10_000 };

/** A server on the memory broker and backend with the tracing middleware, a worker running. */
async function traced(
  options: MachineryTracingOptions = {},
  serverOptions: { control?: MemoryControlPlane } = {},
) {
  const telemetry = memoryTracing();
  const tracing = machineryTracing({ tracerProvider: telemetry.provider, ...options });
  const server = new Server({
    broker: new MemoryBroker(),
    backend: new MemoryBackend(),
    logger: silentLogger,
    ...serverOptions,
    middleware: { publish: [tracing.publish], task: [tracing.task] },
  });
  servers.push(server);
  const tracer = telemetry.provider.getTracer('test');
  return { server, tracer, ...telemetry };
}

const named = (spans: ReadableSpan[], name: string, task: string) =>
  spans.filter((s) => s.name === name && s.attributes['machinery.task.name'] === task);

function one(spans: ReadableSpan[], name: string, task: string): ReadableSpan {
  const found = named(spans, name, task);
  expect(found, `one ${name} span of ${task}`).toHaveLength(1);
  return found[0] as ReadableSpan;
}

describe('send and process spans', () => {
  it('a send inside a span is its PRODUCER child; the worker continues it as a CONSUMER child', async () => {
    const { server, tracer, spans } = await traced({ defaultQueue: 'ignored-when-routed' });
    const add = defineTask('add', (a: number, b: number) => a + b);
    server.register(add);
    await server.worker({ handleSignals: false }).start();
    const sig = add.signatureWith({ routingKey: 'machinery_tasks' }, 1, 2);
    const result = await tracer.startActiveSpan('request', async (request) => {
      try {
        return await server.send(sig);
      } finally {
        request.end();
      }
    });
    expect(await result.get(GET)).toBe(3);
    await eventually(() => named(spans(), 'process machinery_tasks', 'add').length === 1, 'the process span');

    const request = spans().find((s) => s.name === 'request') as ReadableSpan;
    const send = one(spans(), 'send machinery_tasks', 'add');
    const processed = one(spans(), 'process machinery_tasks', 'add');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(send)).toBe(request.spanContext().spanId);
    expect(parentOf(processed)).toBe(send.spanContext().spanId);
    expect(new Set([request, send, processed].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'machinery',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'machinery_tasks',
      'messaging.message.id': sig.uuid,
      'machinery.task.name': 'add',
      'machinery.publish.origin': 'send',
    });
    expect(processed.attributes).toMatchObject({
      'messaging.system': 'machinery',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'machinery_tasks',
      'messaging.message.id': sig.uuid,
      'machinery.task.attempt': 1,
      'machinery.task.outcome': 'succeeded',
    });
    expect(processed.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('writes the send span into the headers as a W3C traceparent', async () => {
    const { server, spans } = await traced();
    const noop = defineTask('noop', () => null);
    const sig = noop.signature();
    await server.send(sig);
    const send = one(spans(), 'send default', 'noop');
    const { traceId, spanId } = send.spanContext();
    expect(sig.headers).toMatchObject({ traceparent: `00-${traceId}-${spanId}-01` });
  });

  it('names the queue of an unrouted signature after defaultQueue', async () => {
    const { server, spans } = await traced({ defaultQueue: 'emails' });
    await server.send(defineTask('mail', () => null).signature());
    expect(named(spans(), 'send emails', 'mail')).toHaveLength(1);
  });

  it('continues a trace from headers the caller set when no span is active', async () => {
    const { server, spans } = await traced();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const sig = signature('remote', [], {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, tracestate: 'vendor=1' },
    });
    await server.send(sig);
    const send = one(spans(), 'send default', 'remote');
    expect(send.spanContext().traceId).toBe(traceId);
    expect(parentOf(send)).toBe('b7ad6b7169203331');
    expect(send.spanContext().traceState?.get('vendor')).toBe('1');
    expect(sig.headers?.traceparent).toBe(`00-${traceId}-${send.spanContext().spanId}-01`);
  });

  it('with processSpan "link", a process span starts its own trace and links to the send span', async () => {
    const { server, spans } = await traced({ processSpan: 'link' });
    const t = defineTask('linked', () => 1);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    await (await server.send(t.signature())).get(GET);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'linked').length === 1,
      'the process span',
    );
    const send = one(spans(), 'send default', 'linked');
    const processed = one(spans(), 'process machinery_tasks', 'linked');
    expect(parentOf(processed)).toBeUndefined();
    expect(processed.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
  });

  it('carries the context with the propagator it is given instead of W3C', async () => {
    const custom: TextMapPropagator = {
      inject: (ctx, carrier, setter) => {
        const span = trace.getSpanContext(ctx);
        if (span) setter.set(carrier, 'x-trace', `${span.traceId}:${span.spanId}`);
      },
      extract: (ctx, carrier, getter) => {
        const [traceId, spanId] = String(getter.get(carrier, 'x-trace') ?? '').split(':');
        if (!traceId || !spanId) return ctx;
        return trace.setSpanContext(ctx, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      },
      fields: () => ['x-trace'],
    };
    const { server, spans } = await traced({ propagator: custom });
    const t = defineTask('custom', () => 1);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const sig = t.signature();
    await (await server.send(sig)).get(GET);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'custom').length === 1,
      'the process span',
    );
    const send = one(spans(), 'send default', 'custom');
    expect(sig.headers).toMatchObject({
      'x-trace': `${send.spanContext().traceId}:${send.spanContext().spanId}`,
    });
    expect(sig.headers).not.toHaveProperty('traceparent');
    expect(parentOf(one(spans(), 'process machinery_tasks', 'custom'))).toBe(send.spanContext().spanId);
  });

  it('refuses an unknown processSpan mode, naming the choices', () => {
    expect(() => machineryTracing({ processSpan: 'child' as 'parent' })).toThrow(
      /processSpan must be 'parent' or 'link', got "child"/,
    );
  });

  it('a span the task function starts is a child of its process span', async () => {
    const { server, spans, tracer } = await traced();
    const t = defineTask('inner', () => {
      tracer.startSpan('query').end();
      return trace.getActiveSpan()?.spanContext().spanId;
    });
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const activeInTask = await (await server.send(t.signature())).get(GET);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'inner').length === 1,
      'the process span',
    );
    const processed = one(spans(), 'process machinery_tasks', 'inner');
    expect(activeInTask).toBe(processed.spanContext().spanId);
    expect(parentOf(spans().find((s) => s.name === 'query') as ReadableSpan)).toBe(
      processed.spanContext().spanId,
    );
  });
});

describe('one trace across workflows', () => {
  it('a chain: each link is sent as a child of the previous link’s process span', async () => {
    const { server, spans } = await traced();
    const add = defineTask('add', (a: number, b: number) => a + b);
    const double = defineTask('double', (a: number) => a * 2);
    server.register(add, double);
    await server.worker({ handleSignals: false }).start();
    const result = await server.sendChain(chain(add.signature(1, 2), signature('double', [])));
    expect(await result.get(GET)).toBe(6);
    await eventually(() => named(spans(), 'process machinery_tasks', 'double').length === 1, 'the last link');

    const firstSend = one(spans(), 'send default', 'add');
    const firstProcess = one(spans(), 'process machinery_tasks', 'add');
    const callbackSend = one(spans(), 'send default', 'double');
    const callbackProcess = one(spans(), 'process machinery_tasks', 'double');
    expect(callbackSend.attributes['machinery.publish.origin']).toBe('callback');
    expect(parentOf(firstProcess)).toBe(firstSend.spanContext().spanId);
    expect(parentOf(callbackSend)).toBe(firstProcess.spanContext().spanId);
    expect(parentOf(callbackProcess)).toBe(callbackSend.spanContext().spanId);
    const traces = new Set(
      [firstSend, firstProcess, callbackSend, callbackProcess].map((s) => s.spanContext().traceId),
    );
    expect(traces.size).toBe(1);
  });

  it('a chord: members are children of the send, the callback of the member that completed the group', async () => {
    const { server, spans, tracer } = await traced();
    const add = defineTask('add', (a: number, b: number) => a + b);
    const sum = defineTask('sum', (...xs: number[]) => xs.reduce((a, b) => a + b, 0));
    server.register(add, sum);
    await server.worker({ handleSignals: false, concurrency: 2 }).start();
    const result = await tracer.startActiveSpan('request', async (request) => {
      try {
        return await server.sendChord(
          chord(group(add.signature(1, 1), add.signature(2, 2)), sum.signature()),
        );
      } finally {
        request.end();
      }
    });
    expect(await result.get(GET)).toBe(6);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'sum').length === 1,
      'the chord callback',
    );

    const all = spans();
    const request = all.find((s) => s.name === 'request') as ReadableSpan;
    const memberSends = named(all, 'send default', 'add');
    const memberProcesses = named(all, 'process machinery_tasks', 'add');
    expect(memberSends).toHaveLength(2);
    expect(memberProcesses).toHaveLength(2);
    for (const send of memberSends) {
      expect(parentOf(send)).toBe(request.spanContext().spanId);
      expect(send.attributes['machinery.group.uuid']).toMatch(/^group_/);
      expect(send.attributes['messaging.batch.message_count']).toBe(2);
    }
    const sendIds = memberSends.map((s) => s.spanContext().spanId);
    for (const processed of memberProcesses) expect(sendIds).toContain(parentOf(processed));
    const callbackSend = one(all, 'send default', 'sum');
    const callbackProcess = one(all, 'process machinery_tasks', 'sum');
    expect(memberProcesses.map((s) => s.spanContext().spanId)).toContain(parentOf(callbackSend));
    expect(parentOf(callbackProcess)).toBe(callbackSend.spanContext().spanId);
    expect(new Set(all.map((s) => s.spanContext().traceId))).toEqual(
      new Set([request.spanContext().traceId]),
    );
  });
});

describe('errors and retries', () => {
  it('a failure sets an error status with the exception; the onError callback continues the trace', async () => {
    const { server, spans } = await traced();
    const broken = defineTask('broken', () => {
      throw new TypeError('out of order');
    });
    const report = defineTask('report', (_error: string) => null);
    server.register(broken, report);
    await server.worker({ handleSignals: false }).start();
    const sig = broken.signatureWith({ onError: [signature('report', [])] });
    const state = await (await server.send(sig)).wait(GET);
    expect(state.state).toBe(TaskStatus.FAILURE);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'report').length === 1,
      'the error callback',
    );

    const processed = one(spans(), 'process machinery_tasks', 'broken');
    expect(processed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'out of order' });
    expect(processed.attributes).toMatchObject({
      'machinery.task.outcome': 'failed',
      'error.type': 'TypeError',
    });
    const exception = processed.events.find((e) => e.name === 'exception');
    expect(exception?.attributes).toMatchObject({
      'exception.type': 'TypeError',
      'exception.message': 'out of order',
    });
    expect(processed.events.some((e) => e.name === 'retry')).toBe(false);
    const callbackSend = one(spans(), 'send default', 'report');
    expect(parentOf(callbackSend)).toBe(processed.spanContext().spanId);
  });

  it('a retried attempt records a retry event; the retry is sent as its child and runs as the next span', async () => {
    const { server, spans } = await traced();
    let runs = 0;
    const flaky = defineTask('flaky', () => {
      if (++runs === 1) throw new RetryLater(10, 'not yet');
      return 'done';
    });
    server.register(flaky);
    await server.worker({ handleSignals: false }).start();
    expect(await (await server.send(flaky.signature())).get(GET)).toBe('done');
    await eventually(() => named(spans(), 'process machinery_tasks', 'flaky').length === 2, 'both attempts');

    const [first, second] = named(spans(), 'process machinery_tasks', 'flaky').sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    ) as [ReadableSpan, ReadableSpan];
    expect(first.attributes['machinery.task.outcome']).toBe('retried');
    expect(first.status.code).toBe(SpanStatusCode.ERROR);
    expect(first.events.find((e) => e.name === 'retry')?.attributes).toMatchObject({
      'machinery.retry.delay_ms': 10,
    });
    expect(one(spans(), 'send default', 'flaky').attributes['machinery.publish.origin']).toBe('send');
    // The worker's copy carries the routing key the broker filled in.
    const retrySend = one(spans(), 'send machinery_tasks', 'flaky');
    expect(retrySend.attributes['machinery.publish.origin']).toBe('retry');
    expect(retrySend.attributes['machinery.task.eta']).toEqual(expect.any(String));
    expect(parentOf(retrySend)).toBe(first.spanContext().spanId);
    expect(parentOf(second)).toBe(retrySend.spanContext().spanId);
    expect(second.attributes['machinery.task.outcome']).toBe('succeeded');
    expect(second.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a revoked task ends its process span as revoked, with an error status', async () => {
    const control = new MemoryControlPlane();
    const { server, spans } = await traced({}, { control });
    const t = defineTask('revocable', () => 1);
    server.register(t);
    const sig = t.signature();
    await server.revoke(sig.uuid, { reason: 'no longer wanted' });
    await server.worker({ handleSignals: false }).start();
    await (await server.send(sig)).wait(GET);
    await eventually(
      () => named(spans(), 'process machinery_tasks', 'revocable').length === 1,
      'the process span',
    );
    const processed = one(spans(), 'process machinery_tasks', 'revocable');
    expect(processed.attributes).toMatchObject({
      'machinery.task.outcome': 'revoked',
      'error.type': 'ERR_TASK_ABORTED',
    });
    expect(processed.status.message).toMatch(/was revoked: no longer wanted/);
  });

  it('a publish that fails records the error on the send span and still rejects', async () => {
    const { server, spans } = await traced();
    await server.close();
    await expect(server.send(defineTask('late', () => 1).signature())).rejects.toThrow();
    const send = one(spans(), 'send default', 'late');
    expect(send.status.code).toBe(SpanStatusCode.ERROR);
    expect(send.events.some((e) => e.name === 'exception')).toBe(true);
  });
});
