import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  formatTime,
  isMachineryError,
  MachineryError,
  PreciseDate,
  parseTime,
  redactText,
  redactUrl,
  resolveLogger,
} from '../src/index.js';

describe('errors', () => {
  it('recognises project errors by brand and code, also across copies of core', () => {
    const err = new DecodeError('bad', 'ETA');
    expect(isMachineryError(err)).toBe(true);
    expect(isMachineryError(err, 'ERR_DECODE')).toBe(true);
    expect(isMachineryError(err, 'ERR_CLOSED')).toBe(false);
    expect(err.message).toBe('bad (at ETA)');
    const foreign = Object.assign(new Error('x'), {
      code: 'ERR_DECODE',
      [Symbol.for('machinery.error')]: true,
    });
    expect(isMachineryError(foreign, 'ERR_DECODE')).toBe(true);
    expect(isMachineryError(new Error('x'))).toBe(false);
    const withCause = new MachineryError('ERR_CONNECTION', 'down', { cause: err });
    expect(withCause.cause).toBe(err);
    expect(withCause.stack).toContain('MachineryError');
  });
});

describe('time', () => {
  it('round-trips Go timestamps with nanoseconds and offsets', () => {
    for (const text of [
      '2025-06-01T10:00:00Z',
      '2025-06-01T10:00:05.5Z',
      '2025-06-01T10:00:00.123456789Z',
      '2025-06-01T12:00:00.000000001+02:00',
      '0001-01-01T00:00:00Z',
    ]) {
      expect(formatTime(parseTime(text))).toBe(text);
    }
    expect(parseTime('2025-06-01T12:00:00+02:00').toISOString()).toBe('2025-06-01T10:00:00.000Z');
    expect(parseTime('2025-06-01T10:00:00.123456789Z')).toBeInstanceOf(PreciseDate);
  });

  it('refuses what is not RFC 3339', () => {
    expect(() => parseTime('2025-06-01 10:00')).toThrow(DecodeError);
    expect(() => parseTime('yesterday')).toThrow(/expected RFC 3339/);
  });
});

describe('redaction', () => {
  it('hides passwords in URLs and in free text', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('amqp://guest:guest@localhost:5672')).toBe('amqp://guest:***@localhost:5672');
    expect(redactUrl('redis://:pw@h')).toBe('redis://:***@h');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
    expect(redactText('connect amqps://u:p4ss@rabbit:5671/vh failed')).toBe(
      'connect amqps://u:***@rabbit:5671/vh failed',
    );
  });
});

describe('logger', () => {
  it('accepts a pino-shaped logger and refuses one without a level method', () => {
    const ok = { debug() {}, info() {}, warn() {}, error() {} };
    expect(resolveLogger(ok)).toBe(ok);
    let caught: unknown;
    try {
      resolveLogger({ debug() {}, info() {}, warn() {} } as never);
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_LOGGER')).toBe(true);
    expect((caught as Error).message).toMatch(/no "error" method/);
  });
});

describe('time ranges', () => {
  it('refuses out-of-range fields instead of rolling them over', () => {
    expect(() => parseTime('2025-13-01T00:00:00Z')).toThrow(/out of range/);
    expect(() => parseTime('2025-01-01T24:00:00Z')).toThrow(/out of range/);
  });
});
