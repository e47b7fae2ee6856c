import { isMachineryError } from '@machinery/core';
import { expect } from 'vitest';

/** The rejection of `promise`; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the operation succeeded');
}

/** What `action` throws; fails the test when it returns. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error to be thrown, but the call returned');
}

/**
 * Asserts that every one of `errors` is a `MachineryError` with code `ERR_CONNECTION` whose message
 * matches `detail` and contains each of `mentions` (a redacted URL, the option to set, ...).
 */
export function expectConnectionErrors(errors: unknown[], detail: RegExp, ...mentions: string[]): void {
  for (const err of errors) {
    expect(isMachineryError(err, 'ERR_CONNECTION'), String(err)).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(detail);
    for (const text of mentions) expect(message).toContain(text);
  }
}
