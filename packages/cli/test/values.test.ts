import { isMachineryError, TypedArg, toArg } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { Output } from '../src/output.js';
import { parseArgValue, parseEta, parseTypedArg, positiveInt, queueList } from '../src/values.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('send arguments are JSON where they parse, strings otherwise', () => {
  it.each([
    ['5', { type: 'int64', value: 5 }],
    ['-2.5', { type: 'float64', value: -2.5 }],
    ['true', { type: 'bool', value: true }],
    ['[1,2]', { type: '[]int64', value: [1, 2] }],
    ['["a","b"]', { type: '[]string', value: ['a', 'b'] }],
    ['{"a":1}', { type: 'json', value: { a: 1 } }],
    ['"5"', { type: 'string', value: '5' }],
    ['hello world', { type: 'string', value: 'hello world' }],
    ['9007199254740993', { type: 'int64', value: 9007199254740993n }],
    ['18446744073709551615', { type: 'uint64', value: 18446744073709551615n }],
  ])('%s', (text, wire) => {
    expect(toArg(parseArgValue(text))).toEqual({ name: '', ...wire });
  });

  it('--type TYPE:VALUE gives an explicit Go type, checked against it', () => {
    const a = parseTypedArg('uint32:640');
    expect(a).toBeInstanceOf(TypedArg);
    expect(toArg(a)).toEqual({ name: '', type: 'uint32', value: 640 });
    expect(toArg(parseTypedArg('string:007'))).toEqual({ name: '', type: 'string', value: '007' });
    expect(toArg(parseTypedArg('[]float64:[1,2]'))).toEqual({ name: '', type: '[]float64', value: [1, 2] });
    expect(usageError(() => parseTypedArg('uint8:256'))).toBe('--type uint8:256: 256 is not uint8.');
    expect(usageError(() => parseTypedArg('int64:abc'))).toBe('--type int64:abc: "abc" is not int64.');
    expect(usageError(() => parseTypedArg('5'))).toMatch(/^--type 5 does not start with a Go type/);
  });
});

describe('option values', () => {
  it('--eta takes a delay or an ISO time', () => {
    const now = Date.UTC(2026, 11, 4, 12, 0, 0);
    expect(parseEta('+10s', now).getTime()).toBe(now + 10_000);
    expect(parseEta('+1m30s', now).getTime()).toBe(now + 90_000);
    expect(parseEta('2026-12-04T18:00:00Z').toISOString()).toBe('2026-12-04T18:00:00.000Z');
    expect(parseEta('2026-12-04T18:00:00.5+01:00').toISOString()).toBe('2026-12-04T17:00:00.500Z');
    expect(usageError(() => parseEta('+soon'))).toMatch(/^--eta \+soon is not a delay/);
    expect(usageError(() => parseEta('next week'))).toMatch(/^--eta next week is not a time/);
  });

  it('--limit is a positive whole number', () => {
    expect(positiveInt({}, 'limit', 100)).toBe(100);
    expect(positiveInt({ limit: '7' }, 'limit', 100)).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'x', '']) {
      expect(usageError(() => positiveInt({ limit: bad }, 'limit', 100))).toMatch(
        /is not a positive whole number/,
      );
    }
  });

  it('--queue a,b and repeated --queue give one list without blanks or duplicates', () => {
    expect(queueList({})).toEqual([]);
    expect(queueList({ queue: ['a,b', ' c ', 'a', ''] })).toEqual(['a', 'b', 'c']);
  });
});

describe('Output', () => {
  function capture(): { out: Output; text: () => string } {
    let text = '';
    const sink = { write: (s: string) => (text += s) };
    return { out: new Output({ stdout: sink, stderr: sink }), text: () => text };
  }

  it('aligns table columns by code points, counts to the right', () => {
    const { out, text } = capture();
    out.table(
      [{ title: 'QUEUE' }, { title: 'N', align: 'right' }, { title: 'NOTE' }],
      [
        ['a', '1000+', '—'],
        ['longer', '3', ''],
      ],
    );
    expect(text()).toBe('QUEUE       N  NOTE\na       1000+  —\nlonger      3\n');
  });

  it('prints the empty text instead of a table without rows', () => {
    const { out, text } = capture();
    out.table([{ title: 'UUID' }], [], 'no pending tasks in q');
    expect(text()).toBe('no pending tasks in q\n');
  });

  it('prints bigints in JSON as digits', () => {
    const { out, text } = capture();
    out.json({ v: 2n ** 64n - 1n });
    expect(JSON.parse(text())).toEqual({ v: '18446744073709551615' });
  });
});
