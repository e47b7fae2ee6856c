import type { Logger } from '@machinery/core';

/**
 * A Logger that writes warnings and errors as one line each — time, level, message, fields as JSON
 * (an `Error` in `err` as its message) — and drops debug and info. `onError` counts the errors.
 */
export function lineLogger(write: (line: string) => void, onError?: () => void): Logger {
  const line = (level: string) => (a: unknown, b?: string) => {
    if (level === 'ERROR') onError?.();
    const fields = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
    const err = fields.err instanceof Error ? fields.err.message : fields.err;
    write(
      `${new Date().toISOString()} ${level} ${typeof a === 'string' ? a : (b ?? '')} ${JSON.stringify({ ...fields, err })}\n`,
    );
  };
  return { debug() {}, info() {}, warn: line('WARN'), error: line('ERROR') } as Logger;
}

/**
 * `target` with some of its methods replaced; every other member comes from `target`, its methods
 * bound to it (so the replaced ones are seen only by callers of the view, never internally).
 */
export function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof T];
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}
