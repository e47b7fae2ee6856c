import { type Logger, MachineryError } from '@machinery/core';

/** Levels `LOG_LEVEL` accepts, quietest last. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Reads `LOG_LEVEL` (default `info`).
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for a level that is not one of {@link LOG_LEVELS}.
 */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const level = (env.LOG_LEVEL?.trim() || 'info').toLowerCase();
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `LOG_LEVEL=${env.LOG_LEVEL} is not a log level: use ${LOG_LEVELS.join(', ')}.`,
    );
  }
  return level as LogLevel;
}

/**
 * The sample apps' logger: one line per entry on stderr (`[machinery] WARN message {"fields"}`),
 * dropping entries below `level`. A real deployment passes pino instead; this keeps the samples
 * free of dependencies.
 */
export function appLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: Exclude<LogLevel, 'silent'>) => (a: unknown, b?: string) => {
    if (LOG_LEVELS.indexOf(l) < min) return;
    const obj = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
    const msg = typeof a === 'string' ? a : (b ?? '');
    const fields: Record<string, unknown> = { ...bindings, ...obj };
    if (fields.err instanceof Error) fields.err = level === 'debug' ? fields.err.stack : fields.err.message;
    const tail = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(`[machinery] ${l.toUpperCase()} ${msg}${tail}\n`);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => appLogger(level, { ...bindings, ...more }),
  } as Logger;
}
