import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect } from 'vitest';

/** Installs an AsyncLocalStorage context manager for the file (the SDK's Node setup does the same). */
export function useContextManager(): void {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });
}

/** A real SDK tracer provider exporting into memory. */
export function memoryTracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    provider,
    exporter,
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
  };
}

/** A reader collecting on demand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A real SDK meter provider read on demand. */
export function memoryMetrics() {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  /** Every data point of instrument `name` in one collection. */
  const points = async (name: string): Promise<DataPoint<unknown>[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === name);
    return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
  };
  return { provider, reader, points };
}

/** The value of the data point whose attributes include `match`; `undefined` when there is none. */
export function pointValue(points: DataPoint<unknown>[], match: Record<string, unknown>): unknown {
  const point = points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return point?.value;
}

/** The number of recordings of a histogram data point. */
export function histogramCount(value: unknown): number {
  return (value as Histogram | undefined)?.count ?? 0;
}

/** Polls `check` until it holds (a loaded machine may be slow); fails with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The span's parent span id (SDK 2 keeps it in `parentSpanContext`). */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Polls `read` until it returns `expected` (or `timeoutMs` passed) and returns what it read last. */
export async function settled<T>(read: () => Promise<T>, expected: T, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    value = await read();
  }
  return value;
}
