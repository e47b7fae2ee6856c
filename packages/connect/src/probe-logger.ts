import { childLogger, type Logger, redactText } from '@machinery/core';

/**
 * The logger adapters get while {@link connect} checks them. Until {@link settle} is called their
 * warnings and errors (reconnect attempts, refused logins) go to `debug` and the last one is kept, so
 * a failed check ends in one message that carries the adapter's reason instead of a burst of retries.
 * After that it forwards every level unchanged.
 */
export class ProbeLogger implements Logger {
  // Shared with child loggers: adapters log through `child({ component })`, and the check must see those lines.
  private readonly state: { probing: boolean; last: string | undefined };

  constructor(
    private readonly target: Logger,
    state?: { probing: boolean; last: string | undefined },
  ) {
    this.state = state ?? { probing: true, last: undefined };
  }

  /** The last warning or error an adapter logged during the check, one line, credentials masked. */
  get lastProblem(): string | undefined {
    return this.state.last;
  }

  /** Ends the check: from now on warnings and errors reach the target logger as they are. */
  settle(): void {
    this.state.probing = false;
  }

  /** A child of the target logger that shares this check. */
  child(bindings: Record<string, unknown>): Logger {
    return new ProbeLogger(childLogger(this.target, bindings), this.state);
  }

  debug = (a: unknown, b?: string): void => this.forward('debug', a, b);
  info = (a: unknown, b?: string): void => this.forward('info', a, b);
  warn = (a: unknown, b?: string): void => this.forward('warn', a, b);
  error = (a: unknown, b?: string): void => this.forward('error', a, b);

  private forward(level: 'debug' | 'info' | 'warn' | 'error', a: unknown, b?: string): void {
    let to = level;
    if (this.state.probing && (level === 'warn' || level === 'error')) {
      this.state.last = describe(a, b);
      to = 'debug';
    }
    const fn = this.target[to] as (a: unknown, b?: string) => void;
    if (b === undefined) fn.call(this.target, a);
    else fn.call(this.target, a, b);
  }
}

function describe(a: unknown, b?: string): string {
  const msg = typeof a === 'string' ? a : (b ?? '');
  const err = typeof a === 'object' && a !== null ? (a as { err?: unknown }).err : undefined;
  const reason = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  const text = reason && !msg.includes(reason) ? `${msg}${msg ? ': ' : ''}${reason}` : msg;
  return oneLine(redactText(text));
}

/** Collapses a message to one line (adapters and drivers sometimes wrap theirs). */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
