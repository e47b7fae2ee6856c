import {
  errorText,
  type Headers,
  isMachineryError,
  MachineryError,
  type PublishContext,
  type PublishMiddleware,
  type Signature,
  type TaskMiddleware,
  type TaskMiddlewareContext,
} from '@machinery/core';
import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { ATTR, MESSAGING_SYSTEM, queueOf } from './attributes.js';
import { headersGetter, headersSetter } from './headers-carrier.js';
import { errorType, outcomeOf, type TaskOutcome } from './outcome.js';
import { W3CTraceContext } from './w3c-trace-context.js';

/** Name of the tracer (and instrumentation scope) this package creates spans with. */
export const INSTRUMENTATION_NAME = '@machinery/opentelemetry';

/** Options of {@link machineryTracing}. */
export interface MachineryTracingOptions {
  /** Where spans go; default the global provider (`trace.getTracerProvider()`) that the SDK registered. */
  tracerProvider?: TracerProvider;
  /**
   * How trace context is written into and read from a task's headers; default W3C Trace Context
   * (`traceparent`, `tracestate`) whatever the global propagator is. Pass `propagation` from
   * `@opentelemetry/api` to use the application's global propagator.
   */
  propagator?: TextMapPropagator;
  /**
   * Queue name for spans of signatures sent without a routing key (the broker fills in its default
   * as it publishes); pass `broker.defaultQueue`. Workers always see the routing key.
   */
  defaultQueue?: string;
  /**
   * How a `process` span relates to the `send` span that published its task: `'parent'` (default) makes
   * it a child, so one trace runs from the producer through every callback; `'link'` starts a new
   * trace and only links it to the producer's span (the semantic
   * conventions' choice for consumers that batch, or when queues hold tasks for long).
   */
  processSpan?: 'parent' | 'link';
}

/** The two middleware {@link machineryTracing} returns, for `new Server({ middleware })`. */
export interface MachineryTracing {
  /** Around every publication: a `send <queue>` PRODUCER span, its context written into the headers. */
  readonly publish: PublishMiddleware;
  /** Around every task run: a `process <queue>` CONSUMER span, continued from the task's headers. */
  readonly task: TaskMiddleware;
}

/**
 * Traces tasks with OpenTelemetry, following the messaging semantic conventions: a PRODUCER span
 * `send <queue>` around each publication, whose context travels in the signature's headers (W3C
 * `traceparent`/`tracestate`), and a CONSUMER span `process <queue>` around each run on a worker,
 * continued from those headers. Callbacks, chord callbacks and retries a task leads to are sent as
 * children of its `process` span, so a chain or chord is one trace. Failures are recorded as
 * exceptions with an error status; a failure that will be retried adds a `retry` event.
 *
 * Needs only `@opentelemetry/api`: register an SDK (or pass `tracerProvider`) to record anything.
 *
 * @example
 * ```ts
 * const tracing = machineryTracing({ defaultQueue: broker.defaultQueue })
 * const server = new Server({
 *   broker,
 *   backend,
 *   middleware: { publish: [tracing.publish], task: [tracing.task] },
 * })
 * ```
 */
export function machineryTracing(options: MachineryTracingOptions = {}): MachineryTracing {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer = provider.getTracer(INSTRUMENTATION_NAME);
  const propagator = options.propagator ?? new W3CTraceContext();
  const defaultQueue = options.defaultQueue;
  const linkOnly = options.processSpan === 'link';
  if (options.processSpan !== undefined && options.processSpan !== 'parent' && !linkOnly) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `machineryTracing: processSpan must be 'parent' or 'link', got ${JSON.stringify(options.processSpan)}.`,
    );
  }

  const extract = (headers: Readonly<Headers> | null): Context | undefined => {
    if (headers === null) return undefined;
    const extracted = propagator.extract(ROOT_CONTEXT, headers, headersGetter);
    const span = trace.getSpanContext(extracted);
    return span !== undefined && isSpanContextValid(span) ? extracted : undefined;
  };

  const publish: PublishMiddleware = async (ctx, next) => {
    const parent = publishParent(ctx, extract);
    const signature = ctx.signature;
    const queue = queueOf(signature, defaultQueue);
    const span = tracer.startSpan(
      `send ${queue}`,
      { kind: SpanKind.PRODUCER, attributes: publishAttributes(signature, queue, ctx.origin) },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    // A retry's copy, or headers a caller forwarded, carry an earlier context: this send replaces it.
    for (const field of propagator.fields()) delete ctx.headers[field];
    propagator.inject(spanContext, ctx.headers, headersSetter);
    try {
      await context.with(spanContext, next);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  };

  const task: TaskMiddleware = async (ctx, next) => {
    const signature = ctx.signature;
    const queue = queueOf(signature, defaultQueue);
    const producer = extract(ctx.headers);
    const producerSpan = producer === undefined ? undefined : trace.getSpanContext(producer);
    const links: Link[] = linkOnly && producerSpan !== undefined ? [{ context: producerSpan }] : [];
    // Not the active context: what is active on a worker is accidental (the memory broker delivers
    // inside the publisher's context), and a task's trace is the one its headers name.
    const parent = (!linkOnly && producer) || ROOT_CONTEXT;
    const span = tracer.startSpan(
      `process ${queue}`,
      { kind: SpanKind.CONSUMER, attributes: processAttributes(ctx, queue), links },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    try {
      await context.with(spanContext, next);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      const outcome = recordOutcome(span, ctx);
      // The worker sends callbacks and retries after the middleware returned, outside this context:
      // their signatures carry it instead, and the publish middleware continues from them.
      stampFollowUps(signature, outcome === 'retried', trace.setSpan(ROOT_CONTEXT, span), propagator);
      span.end();
    }
  };

  return { publish, task };
}

/**
 * The parent of a `send` span. A callback or retry continues the task that led to it, whose context
 * the task middleware stamped into its headers; a send or schedule continues the caller's active span,
 * else the trace named in headers the caller set.
 */
function publishParent(ctx: PublishContext, extract: (h: Readonly<Headers>) => Context | undefined): Context {
  const active = context.active();
  const fromHeaders = extract(ctx.headers);
  if (ctx.origin === 'callback' || ctx.origin === 'retry') return fromHeaders ?? active;
  return trace.getSpan(active) !== undefined ? active : (fromHeaders ?? active);
}

function publishAttributes(signature: Signature, queue: string, origin: string): Attributes {
  const attributes: Attributes = {
    ...common(signature, queue),
    [ATTR.operationType]: 'send',
    [ATTR.operationName]: 'send',
    [ATTR.origin]: origin,
  };
  if (signature.eta !== null) attributes[ATTR.eta] = signature.eta.toISOString();
  return attributes;
}

function processAttributes(ctx: TaskMiddlewareContext, queue: string): Attributes {
  return {
    ...common(ctx.signature, queue),
    [ATTR.operationType]: 'process',
    [ATTR.operationName]: 'process',
    [ATTR.attempt]: ctx.attempt,
  };
}

function common(signature: Signature, queue: string): Attributes {
  const attributes: Attributes = {
    [ATTR.messagingSystem]: MESSAGING_SYSTEM,
    [ATTR.destination]: queue,
    [ATTR.messageId]: signature.uuid,
    [ATTR.taskName]: signature.name,
    [ATTR.retriesLeft]: signature.retryCount,
  };
  if (signature.groupUUID !== '') {
    attributes[ATTR.groupUUID] = signature.groupUUID;
    attributes[ATTR.batchCount] = signature.groupTaskCount;
  }
  if (signature.chordCallback !== null) attributes[ATTR.chordCallbackUUID] = signature.chordCallback.uuid;
  return attributes;
}

/** Records on `span` how the run ended: an exception and error status for failures, events for the rest. */
function recordOutcome(span: Span, ctx: TaskMiddlewareContext): TaskOutcome | undefined {
  const outcome = outcomeOf(ctx);
  if (outcome === undefined) return undefined;
  span.setAttribute(ATTR.outcome, outcome);
  const result = ctx.outcome;
  if (result?.status === 'handedBack') {
    span.addEvent('handed_back', { [ATTR.retryDelayMs]: result.delayMs });
    return outcome;
  }
  if (result?.status !== 'failed') return outcome;
  recordFailure(span, result.error);
  if (outcome === 'retried') {
    const delayMs = isMachineryError(result.error, 'ERR_RETRY_LATER')
      ? (result.error as { delayMs?: unknown }).delayMs
      : undefined;
    span.addEvent('retry', {
      [ATTR.retriesLeft]: ctx.signature.retryCount,
      ...(typeof delayMs === 'number' ? { [ATTR.retryDelayMs]: delayMs } : {}),
    });
  }
  return outcome;
}

function recordFailure(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : errorText(error));
  span.setAttribute(ATTR.errorType, errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(error) });
}

/**
 * Writes `spanContext` into the headers of every signature the worker may send after this run: its
 * `onSuccess`/`onError` callbacks, its chord callback and that callback's `onError` (sent when a member
 * failed), and the task itself when it is retried (the retry is a copy of it).
 */
function stampFollowUps(
  signature: Signature,
  retried: boolean,
  spanContext: Context,
  propagator: TextMapPropagator,
): void {
  const chord = signature.chordCallback;
  const targets = [
    ...(retried ? [signature] : []),
    ...(signature.onSuccess ?? []),
    ...(signature.onError ?? []),
    ...(chord === null ? [] : [chord, ...(chord.onError ?? [])]),
  ];
  for (const target of targets) {
    const headers: Headers = target.headers ?? {};
    for (const field of propagator.fields()) delete headers[field];
    propagator.inject(spanContext, headers, headersSetter);
    target.headers = headers;
  }
}
