import { PrivateRedis } from '@machinery/test-services';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisClient, dropRedisConnection, LuaScript } from '../src/index.js';

// A redis-server of this file's own: the test flushes its script cache.

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await PrivateRedis.start();
});
afterAll(async () => {
  await redis?.stop();
});

it('runs by SHA, and by source when the server does not know the script (restart, SCRIPT FLUSH)', async () => {
  const client = createRedisClient(redis.url);
  try {
    const script = new LuaScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
    await client.script('FLUSH');
    expect(await client.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run(client, ['counter'], ['a'])).toEqual(['counter', 'a', 1]);
    expect(await client.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(client, ['counter'], [7])).toEqual(['counter', '7', 2]);
  } finally {
    dropRedisConnection(client);
  }
});

it('passes a script error through', async () => {
  const client = createRedisClient(redis.url);
  try {
    const script = new LuaScript("return redis.error_reply('ERR nope')");
    await expect(script.run(client, [], [])).rejects.toThrow('nope');
  } finally {
    dropRedisConnection(client);
  }
});
