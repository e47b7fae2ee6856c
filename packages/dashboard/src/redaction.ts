import type { TaskEvent } from '@machinery/core';
import { redactText } from '@machinery/core';
import type { Redact, RedactKind, RedactTask } from './options.js';

/** An argument or result as it travels: a Go type name and its JSON value. */
export interface WireValue {
  readonly type: string;
  readonly value: unknown;
}

/** A task event as the API and the live stream send it: time in RFC 3339, error redacted. */
export interface EventView {
  readonly type: TaskEvent['type'];
  readonly taskUUID: string;
  readonly taskName: string;
  readonly queue: string;
  readonly at: string;
  readonly workerId: string | null;
  /** The error text after `redact('error', …)`; `null` for none. */
  readonly error: unknown;
  readonly delayMs: number | null;
  readonly durationMs: number | null;
}

/**
 * Applies the application's {@link Redact} (identity without one). Error texts also lose any
 * `scheme://user:password@` they carry, whatever `redact` returns, so a connection string quoted in an
 * error never reaches a page.
 */
export class Redactor {
  constructor(private readonly redact: Redact | undefined) {}

  /** `value` of `kind` for `task`, as the application wants it shown. */
  apply(kind: RedactKind, value: unknown, task: RedactTask): unknown {
    const shown = this.redact === undefined ? value : this.redact(kind, value, task);
    return kind === 'error' && typeof shown === 'string' ? redactText(shown) : shown;
  }

  /** Wire arguments or results (`null` stays `null`). */
  values(kind: 'args' | 'results', values: readonly WireValue[] | null, task: RedactTask): unknown {
    if (values === null) return null;
    return this.apply(
      kind,
      values.map((v) => ({ type: v.type, value: v.value })),
      task,
    );
  }

  /** An error text (`''` and `undefined` are none: `null`). */
  error(text: string | undefined, task: RedactTask): unknown {
    if (text === undefined || text === '') return null;
    return this.apply('error', text, task);
  }

  /** A task event for the API and the live stream. */
  event(e: TaskEvent): EventView {
    return {
      type: e.type,
      taskUUID: e.taskUUID,
      taskName: e.taskName,
      queue: e.queue,
      at: new Date(e.at).toISOString(),
      workerId: e.workerId ?? null,
      error: this.error(e.error, { uuid: e.taskUUID, name: e.taskName }),
      delayMs: e.delayMs ?? null,
      durationMs: e.durationMs ?? null,
    };
  }
}
