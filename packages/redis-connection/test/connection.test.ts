import { isMachineryError } from '@machinery/core';
import { expectNoSecret, freePort, SECRET, thrownBy } from '@machinery/test-services';
import { describe, expect, it } from 'vitest';
import {
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  dropRedisConnection,
  redactRedisError,
  redisConnectionError,
} from '../src/index.js';

describe('createRedisClient', () => {
  it('refuses a URL it cannot parse with ERR_INVALID_ARGUMENT, the password redacted', () => {
    const err = thrownBy(() => createRedisClient(`redis://:${SECRET}@[::1`, { lazyConnect: true }));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/Cannot use the Redis URL .*\*\*\*/);
    expectNoSecret(err);
  });

  it('connects to the local server by default and describes it without credentials', () => {
    const client = createRedisClient(undefined, { lazyConnect: true });
    try {
      expect(DEFAULT_REDIS_URL).toBe('redis://127.0.0.1:6379');
      expect(describeRedisClient(client)).toBe('Redis at 127.0.0.1:6379');
    } finally {
      dropRedisConnection(client);
    }
  });
});

describe('redisConnectionError', () => {
  it('names what failed, where (redacted) and the last connection error, with a hint', async () => {
    const port = await freePort();
    const url = `redis://:${SECRET}@127.0.0.1:${port}`;
    const client = createRedisClient(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      const failure = await client.get('k').then(
        () => undefined,
        (e: unknown) => e,
      );
      const err = redisConnectionError('Reading a key', url, failure, client);
      expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
      expect(err.message).toContain(`Reading a key failed on redis://:***@127.0.0.1:${port}`);
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(err.message).toMatch(/Check that Redis is reachable/);
      expectNoSecret(err);
    } finally {
      dropRedisConnection(client);
    }
  });

  it('passes a MachineryError through unchanged', () => {
    const original = redisConnectionError('x', 'redis://h', new Error('boom'));
    expect(redisConnectionError('y', 'redis://h', original)).toBe(original);
  });
});

describe('redactRedisError', () => {
  it('hides the password of AUTH and HELLO … AUTH in the command ioredis keeps on its errors, also in causes', () => {
    const auth = Object.assign(new Error('WRONGPASS'), { command: { name: 'auth', args: ['user', SECRET] } });
    const hello = Object.assign(new Error('WRONGPASS'), {
      command: { name: 'hello', args: ['3', 'AUTH', 'user', SECRET, 'SETNAME', 'x'] },
    });
    const outer = new Error('wrapped', { cause: hello });
    redactRedisError(auth);
    redactRedisError(outer);
    expect((auth as unknown as { command: { args: string[] } }).command.args).toEqual(['user', '***']);
    expect((hello as unknown as { command: { args: string[] } }).command.args).toEqual([
      '3',
      'AUTH',
      'user',
      '***',
      'SETNAME',
      'x',
    ]);
    expectNoSecret(auth, outer);
  });
});
