import { isMachineryError } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';

function refusal(options: RedisBrokerOptions): unknown {
  try {
    new RedisBroker(options);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('RedisBroker options', () => {
  it.each([
    ['a lease under 100 ms', { leaseMs: 50 }, /leaseMs/],
    ['a fractional lease', { leaseMs: 1000.5 }, /leaseMs/],
    ['a batch over 2000', { batchSize: 5000 }, /batchSize/],
    ['an empty default queue', { defaultQueue: '' }, /defaultQueue/],
    ['an unknown wire format', { wireFormat: 'xml' }, /wireFormat/],
    [
      "ioredis's own keyPrefix",
      { clientOptions: { keyPrefix: 'app:', lazyConnect: true } },
      /keyPrefix .* not supported.*prefix option/,
    ],
  ] as const)('refuses %s with ERR_INVALID_ARGUMENT', (_what, options, message) => {
    const err = refusal(options as RedisBrokerOptions);
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
