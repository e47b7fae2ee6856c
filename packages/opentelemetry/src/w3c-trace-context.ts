import {
  type Context,
  createTraceState,
  isSpanContextValid,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const TRACEPARENT_PATTERN = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;

/**
 * The W3C Trace Context propagator (`traceparent`, `tracestate`), written against the API alone so that
 * this package needs no SDK: the headers a task carries are W3C whatever propagator the application
 * registered globally. Pass `propagator: propagation` (the global one) to the tracing options to use
 * the application's instead (for baggage, or B3).
 */
export class W3CTraceContext implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(context);
    if (span === undefined || !isSpanContextValid(span)) return;
    const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
    setter.set(carrier, TRACEPARENT, `00-${span.traceId}-${span.spanId}-${flags}`);
    const state = span.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = first(getter.get(carrier, TRACEPARENT));
    const match = header === undefined ? null : TRACEPARENT_PATTERN.exec(header.trim());
    // Version ff is forbidden; version 00 has no trailing fields (later versions may, and are read as 00).
    if (match === null || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return context;
    const span: SpanContext = {
      traceId: match[2] as string,
      spanId: match[3] as string,
      traceFlags: Number.parseInt(match[4] as string, 16),
      isRemote: true,
    };
    if (!isSpanContextValid(span)) return context;
    const state = getter.get(carrier, TRACESTATE);
    if (state !== undefined) {
      const joined = Array.isArray(state) ? state.join(',') : state;
      if (joined !== '') span.traceState = createTraceState(joined);
    }
    return trace.setSpanContext(context, span);
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
