import { createTraceState, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { headersGetter, headersSetter } from '../src/headers-carrier.js';
import { W3CTraceContext } from '../src/index.js';

const propagator = new W3CTraceContext();
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

const extracted = (headers: Record<string, string | number>) =>
  trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, headersGetter));

describe('W3C trace context in task headers', () => {
  it('writes traceparent and tracestate from the span context', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      traceState: createTraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
    });
    const headers = {};
    propagator.inject(ctx, headers, headersSetter);
    expect(headers).toEqual({
      traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`,
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    });
  });

  it('writes nothing without a valid span context', () => {
    const headers = {};
    propagator.inject(ROOT_CONTEXT, headers, headersSetter);
    expect(headers).toEqual({});
  });

  it('reads a remote span context back, unsampled flags included', () => {
    expect(extracted({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00`, tracestate: 'a=1' })).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
  });

  it('ignores malformed, forbidden and non-string traceparent headers', () => {
    for (const traceparent of [
      'garbage',
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
    ]) {
      expect(extracted({ traceparent }), traceparent).toBeUndefined();
    }
    expect(extracted({ traceparent: 42 })).toBeUndefined();
  });

  it('reads a later version with trailing fields as version 00', () => {
    expect(extracted({ traceparent: `01-${TRACE_ID}-${SPAN_ID}-01-future` })?.spanId).toBe(SPAN_ID);
  });

  it('names the headers it owns', () => {
    expect(propagator.fields()).toEqual(['traceparent', 'tracestate']);
  });
});
