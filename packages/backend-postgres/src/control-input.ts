import { MachineryError } from '@machinery/core';
import { LONGEST_TABLE_SUFFIX } from './control-statements.js';

/** `NOTIFY` payloads must be shorter than 8000 bytes; a queue name travels in one with a 2-byte tag. */
const MAX_QUEUE_BYTES = 7900;

/** The `tablePrefix` option, checked, with its default. */
export function checkPrefix(prefix: string | undefined): string {
  const value = prefix ?? 'machinery_';
  const room = 63 - LONGEST_TABLE_SUFFIX.length;
  if (typeof value !== 'string' || Buffer.byteLength(value) > room || value.includes('\0')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `PostgresControlPlane option tablePrefix must be a string of at most ${room} bytes without NUL ` +
        `(PostgreSQL cuts table names at 63 bytes), got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** Task UUIDs, checked: strings PostgreSQL text can hold. */
export function checkUuids(uuids: readonly string[]): readonly string[] {
  if (!Array.isArray(uuids) || uuids.some((uuid) => typeof uuid !== 'string')) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', 'Task UUIDs must be given as an array of strings.');
  }
  const nul = uuids.find((uuid) => uuid.includes('\0'));
  if (nul !== undefined) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Task UUID ${JSON.stringify(nul)} holds a NUL character, which PostgreSQL text cannot store.`,
    );
  }
  return uuids;
}

/** A time-to-live in ms, checked, as a whole number ≥ 1. */
export function checkTtl(what: string, ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${what} must be a finite number of milliseconds, got ${ttlMs}.`,
    );
  }
  return Math.max(1, Math.ceil(ttlMs));
}

/** A queue name, checked: it must fit in a `NOTIFY` payload. */
export function checkQueue(queue: string): string {
  if (typeof queue !== 'string' || queue === '' || queue.includes('\0')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `A queue name must be a non-empty string without NUL, got ${JSON.stringify(queue)}.`,
    );
  }
  if (Buffer.byteLength(queue) > MAX_QUEUE_BYTES) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Queue name is ${Buffer.byteLength(queue)} bytes; the PostgreSQL control plane announces pauses with ` +
        `NOTIFY, which takes at most ${MAX_QUEUE_BYTES}. Use a shorter queue name.`,
    );
  }
  return queue;
}

/** The progress as JSON text, or `null` when `data` has no JSON form (`undefined`). */
export function progressJson(data: unknown): string | null {
  try {
    return JSON.stringify(data) ?? null;
  } catch (err) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'Task progress must be a JSON value (no BigInt, no cycles); report plain objects, arrays, numbers or strings.',
      { cause: err },
    );
  }
}
