import type { Headers, JsonValue } from '@machinery/core';

/** Our count of earlier deliveries of a task message, carried by the copies a requeue publishes. */
export const ATTEMPT_HEADER = 'x-machinery-attempt';
/** When a delayed message is due (ms since the epoch). */
export const DUE_HEADER = 'x-machinery-due';
/** Present when a delay was longer than one pass through the delay levels: re-delay on arrival. */
export const REHOP_HEADER = 'x-machinery-rehop';
/** Why a dead letter was dead-lettered. */
export const REASON_HEADER = 'x-machinery-reason';
/** The queue a dead letter came from. */
export const ORIGIN_HEADER = 'x-machinery-queue';
/** When it was dead-lettered (ms since the epoch). */
export const DEAD_AT_HEADER = 'x-machinery-dead-at';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function toField(v: JsonValue): unknown {
  if (typeof v === 'bigint') {
    // amqplib cannot guess a bigint's wire type; a typed long carries it exactly.
    return v >= INT64_MIN && v <= INT64_MAX ? { '!': 'long', value: v } : v.toString();
  }
  if (Array.isArray(v)) return v.map(toField);
  if (v !== null && typeof v === 'object') return toTable(v);
  return v;
}

function toTable(h: { [key: string]: JsonValue }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) out[k] = toField(v);
  return out;
}

/** A signature's `Headers` as an AMQP field table (Go sends them as the message's headers). */
export function toAmqpHeaders(headers: Headers | null): Record<string, unknown> {
  return headers === null ? {} : toTable(headers);
}

/**
 * The headers of a received message without what RabbitMQ and our delay, retry and dead-letter
 * machinery added — what a copy of the message starts from. Dead-lettering history (`x-death`) must
 * go: RabbitMQ drops a message as a dead-letter cycle when it meets its own history again.
 */
export function userHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (
      k === 'x-death' ||
      k === 'x-delivery-count' ||
      k.startsWith('x-first-death-') ||
      k.startsWith('x-last-death-') ||
      k.startsWith('x-machinery-') ||
      k.startsWith('machinery-')
    )
      continue;
    out[k] = v;
  }
  return out;
}

/** A numeric header as a number (amqplib decodes integers as numbers; tolerate bigint and strings). */
export function numberHeader(headers: Record<string, unknown> | undefined, name: string): number | undefined {
  const v = headers?.[name];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** A string header, or `undefined`. */
export function stringHeader(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}
