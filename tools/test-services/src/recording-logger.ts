import type { Logger } from '@machinery/core';
import { eventually } from '@machinery/testing';
import { expect } from 'vitest';

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
 * Waits (up to 10 s) until `logger` holds at least `n` lines whose message says `retrying`: the
 * reconnect attempts a client logs in the background.
 */
export async function reconnectAttempts(logger: RecordingLogger, n: number): Promise<void> {
  await eventually(
    () => expect(logger.lines.filter((l) => /retrying/.test(String(l.msg))).length).toBeGreaterThanOrEqual(n),
    { timeoutMs: 10_000 },
  );
}
