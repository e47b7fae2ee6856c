import { formatTime, fromWire, type JsonValue } from '@machinery/core';

/** An argument or result as it travels: a Go type name and its JSON value. */
export interface WireValue {
  readonly type: string;
  readonly value: unknown;
}

/**
 * JSON text for any value the CLI prints: `bigint` (int64 beyond 2^53) as its decimal digits so no
 * precision is lost, `Uint8Array` as base64, dates in RFC 3339.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, jsonReplacer, indent);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/** The JavaScript value of a wire argument or result, or its raw wire value when it cannot be converted. */
export function wireValue(a: WireValue): unknown {
  try {
    return fromWire(a.type, a.value as JsonValue);
  } catch {
    return a.value;
  }
}

/** One argument or result for a human: its value as JSON. */
export function showValue(a: WireValue): string {
  return toJson(wireValue(a)) ?? 'undefined';
}

/** Arguments in one line (`1, 2, "x"`), cut to `max` characters with an ellipsis. */
export function summarizeArgs(args: readonly WireValue[] | null, max = 40): string {
  if (args === null || args.length === 0) return '';
  return truncate(args.map(showValue).join(', '), max);
}

/** `text` cut to `max` characters, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A date in RFC 3339 (UTC), `—` for none. */
export function showDate(date: Date | null | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '—';
  return formatTime(date);
}

/** A date for JSON output, `null` for none. */
export function jsonDate(date: Date | null | undefined): string | null {
  if (!date || Number.isNaN(date.getTime())) return null;
  return formatTime(date);
}
