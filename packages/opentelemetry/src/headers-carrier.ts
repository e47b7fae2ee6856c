import type { Headers } from '@machinery/core';
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/**
 * Reads a propagator's fields from a signature's headers. Only string values count: Go Machinery's
 * OpenTracing bridge reads string headers alone, and other values cannot be trace context.
 */
export const headersGetter: TextMapGetter<Readonly<Headers>> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => {
    const value = headers[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/** Writes a propagator's fields into a signature's headers. */
export const headersSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => {
    headers[key] = value;
  },
};
