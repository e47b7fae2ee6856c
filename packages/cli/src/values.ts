import {
  type ArgType,
  arg,
  fromWire,
  isSupportedType,
  MachineryError,
  parseDuration,
  parseTime,
} from '@machinery/core';
import type { OptionValues } from './command.js';

function usage(message: string): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', message);
}

/** A positive whole number option (`--limit`), or `fallback` when absent. */
export function positiveInt(options: OptionValues, name: string, fallback: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw usage(`--${name} ${String(raw)} is not a positive whole number: pass e.g. --${name} 100.`);
  }
  return n;
}

/** A string option, or `undefined` when absent. */
export function stringOption(options: OptionValues, name: string): string | undefined {
  const raw = options[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** `--queue a,b` (or repeated `--queue`) as a list of queue names without blanks or duplicates. */
export function queueList(options: OptionValues): string[] {
  const raw = options.queue;
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const names = values
    .flatMap((v) => String(v).split(','))
    .map((q) => q.trim())
    .filter((q) => q !== '');
  return [...new Set(names)];
}

/**
 * An ETA: an RFC 3339 / ISO 8601 time (`2026-12-04T18:00:00Z`) or a delay from now (`+10s`, `+1m30s`,
 * `+500ms`, `+2h`).
 */
export function parseEta(text: string, now = Date.now()): Date {
  const trimmed = text.trim();
  if (trimmed.startsWith('+')) {
    try {
      return new Date(now + parseDuration(trimmed.slice(1)));
    } catch {
      throw usage(`--eta ${text} is not a delay: use +500ms, +10s, +1m30s or +2h, or an ISO time.`);
    }
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) {
    try {
      return parseTime(trimmed);
    } catch {
      // A time without a zone (2026-12-04T18:00:00) is read as local time, as people mean it.
    }
    const date = new Date(trimmed);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw usage(`--eta ${text} is not a time: use an ISO time (2026-12-04T18:00:00Z) or a delay (+10s).`);
}

// Integers beyond 2^53 keep every digit as a bigint (int64); JSON.parse would round them.
const BIG_INT = /^-?\d{16,}$/;

/**
 * A task argument from the command line: JSON where it parses (`5` → int64, `1.5` → float64, `true`,
 * `[1,2]` → []int64, `{"a":1}` → json, `"5"` → the string 5), otherwise the text as a string.
 */
export function parseArgValue(text: string): unknown {
  if (BIG_INT.test(text)) {
    const big = BigInt(text);
    if (!Number.isSafeInteger(Number(big))) return big;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A typed argument, `TYPE:VALUE` (`int64:5`, `uint32:640`, `float64:1`, `string:007`,
 * `[]string:["a","b"]`): the value is read as JSON (as text for `string`) and checked against the
 * Go type.
 */
export function parseTypedArg(spec: string): ReturnType<typeof arg> {
  const colon = spec.indexOf(':');
  const type = colon > 0 ? spec.slice(0, colon) : '';
  if (!isSupportedType(type)) {
    throw usage(
      `--type ${spec} does not start with a Go type: use TYPE:VALUE, e.g. int64:5, uint32:640, float64:1, string:007, []string:["a","b"].`,
    );
  }
  const text = spec.slice(colon + 1);
  const value = type === 'string' || type === '[]byte' ? text : parseArgValue(text);
  try {
    // fromWire applies Go's rules (range, integer-ness), so a bad value fails here, not in a worker.
    fromWire(type, value as never);
  } catch (err) {
    throw usage(`--type ${spec}: ${(err as Error).message}.`);
  }
  return arg(type as ArgType, value as never);
}
