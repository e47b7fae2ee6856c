import { describe, expect, it } from 'vitest';
import {
  arg,
  fromWire,
  inferType,
  isMachineryError,
  isSupportedType,
  toArg,
  toResult,
} from '../src/index.js';

describe('argument types', () => {
  it('infers Go types from JavaScript values', () => {
    expect(inferType(1)).toBe('int64');
    expect(inferType(1.5)).toBe('float64');
    expect(inferType(2n ** 63n - 1n)).toBe('int64');
    expect(inferType(2n ** 63n)).toBe('uint64');
    expect(inferType('s')).toBe('string');
    expect(inferType(true)).toBe('bool');
    expect(inferType(new Uint8Array(1))).toBe('[]byte');
    expect(inferType([1, 2])).toBe('[]int64');
    expect(inferType([1, 2.5])).toBe('[]float64');
    expect(inferType(['a'])).toBe('[]string');
    expect(inferType([true])).toBe('[]bool');
    expect(inferType({ a: 1 })).toBe('json');
    expect(inferType(null)).toBe('json');
    expect(inferType([])).toBe('json');
  });

  it('sends whole numbers beyond int64 as float64, which Go can read (1e21 is written 1e+21)', () => {
    expect(inferType(2 ** 62)).toBe('int64');
    expect(inferType(-(2 ** 63))).toBe('int64');
    expect(inferType(2 ** 63)).toBe('float64');
    expect(inferType(1e21)).toBe('float64');
    expect(inferType(-1e21)).toBe('float64');
    expect(inferType([1, 1e21])).toBe('[]float64');
    expect(toArg(1e21)).toEqual({ name: '', type: 'float64', value: 1e21 });
  });

  it('lets arg() override the inferred type', () => {
    expect(toArg(arg('uint32', 5))).toEqual({ name: '', type: 'uint32', value: 5 });
    expect(toArg(arg('float64', 2, 'ratio'))).toEqual({ name: 'ratio', type: 'float64', value: 2 });
  });

  it('refuses undefined and non-finite values with a clear error', () => {
    expect(() => toArg(undefined)).toThrow(/undefined/);
    expect(() => toArg(Number.POSITIVE_INFINITY)).toThrow(/NaN or Infinity/);
  });

  it('converts wire values with Go’s rules', () => {
    expect(fromWire('int64', 42)).toBe(42);
    expect(fromWire('int64', 185135722552891243n)).toBe(185135722552891243n);
    expect(fromWire('uint64', 9223372036854775808n)).toBe(9223372036854775808n);
    expect(fromWire('float32', 0.1)).toBe(Math.fround(0.1));
    expect(fromWire('[]int64', null)).toEqual([]);
    expect(fromWire('[]string', ['a', 'b'])).toEqual(['a', 'b']);
    expect(fromWire('[]byte', 'AQL/')).toEqual(new Uint8Array([1, 2, 255]));
    expect(fromWire('[]uint8', [1, 2])).toEqual(new Uint8Array([1, 2]));
    expect(fromWire('json', { a: [1] })).toEqual({ a: [1] });
  });

  for (const [type, value, message] of [
    ['int64', '42', '"42" is not int64'],
    ['int64', 1.5, '1.5 is not int64'],
    ['int8', 200, '200 is not int8'],
    ['uint', -1, '-1 is not uint'],
    ['uint64', 2n ** 64n, '18446744073709551616 is not uint64'],
    ['bool', 'true', '"true" is not bool'],
    ['string', 5, '5 is not string'],
    ['float64', 'x', '"x" is not float64'],
    ['[]int64', 'x', '"x" is not []int64'],
    ['[]byte', 'not base64!', '"not base64!" is not []byte'],
  ] as const) {
    it(`refuses ${JSON.stringify(typeof value === 'bigint' ? value.toString() : value)} as ${type}`, () => {
      let caught: unknown;
      try {
        fromWire(type, value);
      } catch (err) {
        caught = err;
      }
      expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
      expect((caught as Error).message).toBe(message);
    });
  }

  it('refuses unknown type names', () => {
    expect(isSupportedType('map[string]int')).toBe(false);
    expect(() => fromWire('map[string]int', {})).toThrow('map[string]int is not one of supported types');
  });

  it('stores results with the same inference', () => {
    expect(toResult(2)).toEqual({ type: 'int64', value: 2 });
    expect(toResult(['x'])).toEqual({ type: '[]string', value: ['x'] });
  });
});
