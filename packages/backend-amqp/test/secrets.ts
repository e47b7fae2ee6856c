import type { Logger } from '@machinery/core';
import { expect } from 'vitest';

/** The recognisable password every credential test uses; it must never be seen outside the client. */
export const SECRET = 's3cr3t-p4ss';

/** One line a component logged, as the logger received it. */
export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly bindings: Record<string, unknown>;
  readonly obj: unknown;
  readonly msg: unknown;
}

/** A logger that keeps every line at every level, child loggers included. */
export interface RecordingLogger extends Logger {
  readonly lines: LogLine[];
}

/** A {@link RecordingLogger}: pino's call shape, `(obj, msg?)` or `(msg)`. */
export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): RecordingLogger => {
    const at =
      (level: LogLine['level']) =>
      (a: unknown, b?: unknown): void => {
        if (typeof a === 'string') lines.push({ level, bindings, obj: undefined, msg: a });
        else lines.push({ level, bindings, obj: a, msg: b });
      };
    return {
      lines,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    } as RecordingLogger;
  };
  return make({});
}

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

/** The rejection of `promise`; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the operation succeeded');
}
