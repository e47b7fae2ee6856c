import { REDIS_URL, rawClient } from '@machinery/test-services';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { carriedAck, dropRedisConnection, JointScript, sameRedisServer } from '../src/index.js';

const client = rawClient(REDIS_URL);
afterAll(() => client.disconnect());

// A write step as the Redis backend's state writer replies: one entry per key, 1 when written.
const WRITES = `
local out = {}
for i = 1, #KEYS do
  if ARGV[i] == 'fail' then out[i] = 'ERR refused' else redis.call('SET', KEYS[i], ARGV[i]); out[i] = 1 end
end
return out
`;
const THEN = `redis.call('SET', KEYS[1], ARGV[1]) return {KEYS[1], ARGV[1], #KEYS, #ARGV}`;

it('runs the second step after the first, each with its own KEYS and ARGV', async () => {
  const p = `joint-${process.pid}-${Date.now()}:`;
  try {
    const joint = new JointScript(WRITES, THEN);
    const reply = await joint.run(
      client,
      { lua: WRITES, keys: [`${p}a`, `${p}b`], args: ['1', '2'] },
      { lua: THEN, keys: [`${p}acked`], args: ['yes'] },
    );
    expect(reply).toEqual([
      [1, 1],
      [`${p}acked`, 'yes', 1, 1],
    ]);
    expect(await client.mget(`${p}a`, `${p}b`, `${p}acked`)).toEqual(['1', '2', 'yes']);
  } finally {
    await client.del(`${p}a`, `${p}b`, `${p}acked`);
  }
});

it('does not run the second step when a write of the first failed', async () => {
  const p = `joint-${process.pid}-${Date.now()}:`;
  try {
    const joint = new JointScript(WRITES, THEN);
    const [writes, then] = await joint.run(
      client,
      { lua: WRITES, keys: [`${p}a`, `${p}b`], args: ['1', 'fail'] },
      { lua: THEN, keys: [`${p}acked`], args: ['yes'] },
    );
    expect(writes).toEqual([1, 'ERR refused']);
    expect(then).toBeNull();
    expect(await client.exists(`${p}acked`)).toBe(0);
  } finally {
    await client.del(`${p}a`, `${p}b`, `${p}acked`);
  }
});

it('tells clients of one server from clients of another', () => {
  const clients = [
    new Redis({ lazyConnect: true, host: '127.0.0.1', port: 6379 }),
    new Redis({ lazyConnect: true, host: '127.0.0.1', port: 6379 }),
    new Redis({ lazyConnect: true, host: '127.0.0.1', port: 6379, db: 1 }),
    new Redis({ lazyConnect: true, host: '127.0.0.1', port: 6380 }),
  ] as const;
  try {
    const [a, b, otherDb, otherPort] = clients;
    expect(sameRedisServer(a, a)).toBe(true);
    expect(sameRedisServer(a, b)).toBe(true);
    expect(sameRedisServer(a, otherDb)).toBe(false);
    expect(sameRedisServer(a, otherPort)).toBe(false);
  } finally {
    for (const c of clients) dropRedisConnection(c);
  }
});

it('finds no carried acknowledgement on a delivery that offers none', () => {
  expect(carriedAck({ ack: () => Promise.resolve(true) })).toBeUndefined();
});
