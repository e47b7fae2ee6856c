import { DecodeError } from './errors.js';

/**
 * A `Date` that remembers what a `Date` cannot: nanoseconds below the millisecond and the UTC offset
 * it was written with. Go writes times with nanosecond precision; decoding into a `PreciseDate` lets the
 * codec write them back byte for byte. It is a `Date` everywhere else.
 */
export class PreciseDate extends Date {
  /** Nanoseconds within the millisecond, 0–999 999. */
  readonly subMillisecondNanos: number;
  /** Offset from UTC in minutes as written (`+02:00` → 120), or `null` for `Z`. */
  readonly offsetMinutes: number | null;

  constructor(epochMs: number, subMillisecondNanos = 0, offsetMinutes: number | null = null) {
    super(epochMs);
    this.subMillisecondNanos = subMillisecondNanos;
    this.offsetMinutes = offsetMinutes;
  }
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp with up to nine fractional digits (Go's `time.RFC3339Nano`).
 * @throws DecodeError when the text is not such a timestamp.
 */
export function parseTime(text: string, path = ''): Date {
  const m = RFC3339.exec(text);
  if (!m) {
    throw new DecodeError(
      `Invalid timestamp ${JSON.stringify(text)}: expected RFC 3339 like 2025-06-01T10:00:05.5Z`,
      path,
    );
  }
  const [, y, mo, d, h, mi, s, frac = '', z, sign, oh, om] = m;
  if (
    Number(mo) < 1 ||
    Number(mo) > 12 ||
    Number(d) < 1 ||
    Number(d) > 31 ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 60
  ) {
    throw new DecodeError(
      `Invalid timestamp ${JSON.stringify(text)}: a date or time field is out of range`,
      path,
    );
  }
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  let offset: number | null = null;
  if (z === undefined) {
    offset = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  }
  const nanos = Number(frac.padEnd(9, '0'));
  const ms = date.getTime() - (offset ?? 0) * 60_000 + Math.floor(nanos / 1e6);
  if (Number.isNaN(ms)) throw new DecodeError(`Invalid timestamp ${JSON.stringify(text)}`, path);
  const sub = nanos % 1e6;
  if (sub === 0 && offset === null) return new Date(ms);
  return new PreciseDate(ms, sub, offset);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

let lastSecond = Number.NaN;
let lastSecondText = '';

/** `YYYY-MM-DDTHH:MM:SS` plus milliseconds, trimmed of trailing zeros as Go does, and `Z`. */
function withMillis(secondText: string, millis: number): string {
  if (millis === 0) return `${secondText}Z`;
  if (millis % 100 === 0) return `${secondText}.${millis / 100}Z`;
  if (millis % 10 === 0) return `${secondText}.${pad(millis / 10, 2)}Z`;
  return `${secondText}.${pad(millis, 3)}Z`;
}

/**
 * Formats a date as Go's `time.RFC3339Nano`: fraction trimmed of trailing zeros, `Z` for UTC.
 * A {@link PreciseDate} keeps its nanoseconds and offset.
 */
export function formatTime(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new DecodeError('Cannot format an invalid Date');
  let nanos = 0;
  let offset: number | null = null;
  if (date instanceof PreciseDate) {
    nanos = date.subMillisecondNanos;
    offset = date.offsetMinutes;
  }
  if (offset === null && nanos === 0) {
    // Every state write formats "now": the text of the current second is kept, only its milliseconds
    // change (toISOString is the costliest step of encoding a state).
    const second = ms - (ms % 1000);
    if (second === lastSecond && ms >= 0) return withMillis(lastSecondText, ms - second);
    const iso = date.toISOString();
    // Years outside 0000–9999 have an expanded form Go never writes; fall through for those.
    if (iso.length === 24) {
      const secondText = iso.slice(0, 19);
      if (ms >= 0) {
        lastSecond = second;
        lastSecondText = secondText;
      }
      return withMillis(secondText, Number(iso.slice(20, 23)));
    }
  }
  const shifted = new Date(ms + (offset ?? 0) * 60_000);
  const base =
    `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1, 2)}-${pad(shifted.getUTCDate(), 2)}` +
    `T${pad(shifted.getUTCHours(), 2)}:${pad(shifted.getUTCMinutes(), 2)}:${pad(shifted.getUTCSeconds(), 2)}`;
  const totalNanos = shifted.getUTCMilliseconds() * 1e6 + nanos;
  const frac = totalNanos === 0 ? '' : `.${pad(totalNanos, 9).replace(/0+$/, '')}`;
  if (offset === null) return `${base}${frac}Z`;
  const abs = Math.abs(offset);
  return `${base}${frac}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

/** Go's zero `time.Time` as it appears in JSON: `0001-01-01T00:00:00Z`. */
export const ZERO_TIME_TEXT = '0001-01-01T00:00:00Z';
