import { isMachineryError } from '@machinery/core';
import { expect } from 'vitest';
import { thrownBy } from './failures.js';

/** The recognisable password every credential test uses; it must never be seen outside the client. */
export const SECRET = 's3cr3t-p4ss';

/**
 * Every piece of text a logger or an error report could print from `value`: for an error its name,
 * message, stack, cause and every enumerable field (what pino's serializer and `JSON.stringify`
 * print, e.g. ioredis's `command.args`); for other objects their enumerable fields, recursively;
 * Buffers as UTF-8.
 */
export function exposedText(value: unknown): string {
  const out: string[] = [];
  const seen = new Set<object>();
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      out.push(v);
      return;
    }
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      out.push(String(v));
      return;
    }
    if (typeof v !== 'object' || v === null || seen.has(v) || depth > 12 || seen.size > 50_000) return;
    seen.add(v);
    if (Buffer.isBuffer(v)) {
      if (v.length <= 1 << 20) out.push(v.toString('utf8'));
      return;
    }
    if (v instanceof Error) {
      out.push(v.name, v.message, v.stack ?? '');
      visit(v.cause, depth + 1);
      if (v instanceof AggregateError) visit(v.errors, depth + 1);
    }
    try {
      out.push(JSON.stringify(v) ?? '');
    } catch {
      // Circular or with BigInts: the walk below still sees every field.
    }
    for (const key in v) {
      out.push(key);
      try {
        visit((v as Record<string, unknown>)[key], depth + 1);
      } catch {
        // A getter that throws shows nothing.
      }
    }
  };
  visit(value, 0);
  return out.join('\n');
}

/** Asserts that {@link SECRET} shows up nowhere in what `values` expose (see {@link exposedText}). */
export function expectNoSecret(...values: unknown[]): void {
  for (const value of values) {
    const text = exposedText(value);
    const at = text.indexOf(SECRET);
    expect(at, at < 0 ? '' : `the password leaked: …${text.slice(Math.max(0, at - 200), at + 50)}…`).toBe(-1);
  }
}

/**
 * Asserts that each of `constructors` refuses each of `urls` (URLs holding {@link SECRET} that cannot
 * be parsed; Node would put the whole URL on its error) with an `ERR_INVALID_ARGUMENT` whose message
 * shows the URL as `redacted` (e.g. `guest:***@`) and that exposes the password nowhere.
 */
export function expectUnparsableUrlsRedacted(
  urls: readonly string[],
  redacted: string,
  ...constructors: ((url: string) => unknown)[]
): void {
  for (const url of urls) {
    for (const construct of constructors) {
      const error = thrownBy(() => construct(url));
      expect(isMachineryError(error, 'ERR_INVALID_ARGUMENT'), String(error)).toBe(true);
      expect((error as Error).message).toContain(redacted);
      expectNoSecret(error);
    }
  }
}
