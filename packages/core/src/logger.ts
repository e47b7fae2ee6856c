import { MachineryError } from './errors.js';

/** One logging method: pino's call shape, `(obj, msg?)` or `(msg)`. */
export type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

/**
 * The logger every component accepts. pino, and loggers with pino's API, fit as they are.
 *
 * Components never log task arguments, results or connection strings at `info` or above;
 * such details appear at `debug` only, so keep `debug` off in production if they are sensitive.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** Optional: a logger that adds `bindings` to every line. */
  child?(bindings: Record<string, unknown>): Logger;
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function write(level: 'warn' | 'error', bindings: Record<string, unknown>, a: unknown, b?: string): void {
  const obj = typeof a === 'object' && a !== null ? a : {};
  const msg = typeof a === 'string' ? a : (b ?? '');
  const fields = { ...bindings, ...obj } as Record<string, unknown>;
  if (fields.err instanceof Error) fields.err = fields.err.stack ?? fields.err.message;
  const tail = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`[machinery] ${level.toUpperCase()} ${msg}${tail}\n`);
}

function makeDefault(bindings: Record<string, unknown>): Logger {
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    warn: (a: unknown, b?: string) => write('warn', bindings, a, b),
    error: (a: unknown, b?: string) => write('error', bindings, a, b),
    child: (more) => makeDefault({ ...bindings, ...more }),
  } as Logger;
}

/** The default logger: drops `debug` and `info`, writes `warn` and `error` to stderr. */
export function defaultLogger(): Logger {
  return makeDefault({});
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/**
 * Checks a user-supplied logger and returns it (or the default when none is given).
 * @throws MachineryError `ERR_INVALID_LOGGER` when a level method is missing.
 */
export function resolveLogger(logger: Logger | undefined): Logger {
  if (logger === undefined) return defaultLogger();
  for (const level of LEVELS) {
    if (typeof (logger as unknown as Record<string, unknown>)[level] !== 'function') {
      throw new MachineryError(
        'ERR_INVALID_LOGGER',
        `The logger has no "${level}" method. Pass a pino-compatible logger with debug, info, warn and error.`,
      );
    }
  }
  return logger;
}

/** `logger.child(bindings)` when the logger supports it, else the logger itself. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  return typeof logger.child === 'function' ? logger.child(bindings) : logger;
}
