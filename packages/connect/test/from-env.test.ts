import { isMachineryError } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { connectFromEnv, optionsFromEnv } from '../src/index.js';

describe('optionsFromEnv', () => {
  it('reads the URLs, the queue and the AMQP exchange settings', () => {
    expect(
      optionsFromEnv({
        BROKER_URL: 'amqp://127.0.0.1',
        RESULT_BACKEND_URL: 'redis://127.0.0.1',
        LOCK_URL: 'redis://127.0.0.1/1',
        CONTROL_URL: 'redis://127.0.0.1/2',
        QUEUE: 'reports',
        AMQP_EXCHANGE: 'jobs',
        AMQP_EXCHANGE_TYPE: 'topic',
        AMQP_BINDING_KEY: 'reports.*',
      }),
    ).toEqual({
      broker: 'amqp://127.0.0.1',
      backend: 'redis://127.0.0.1',
      lock: 'redis://127.0.0.1/1',
      control: 'redis://127.0.0.1/2',
      defaultQueue: 'reports',
      amqp: { exchange: 'jobs', exchangeType: 'topic', bindingKey: 'reports.*' },
    });
  });

  it('treats empty variables as unset', () => {
    expect(optionsFromEnv({ BROKER_URL: 'memory://', RESULT_BACKEND_URL: '', QUEUE: ' ' })).toEqual({
      broker: 'memory://',
    });
  });

  it('reads CONTROL_URL=none (or false) as no control plane', () => {
    expect(optionsFromEnv({ BROKER_URL: 'memory://', CONTROL_URL: 'none' }).control).toBe(false);
    expect(optionsFromEnv({ BROKER_URL: 'memory://', CONTROL_URL: 'FALSE' }).control).toBe(false);
  });

  it('requires BROKER_URL rather than guessing memory://', () => {
    expect(() => optionsFromEnv({})).toThrow(/^BROKER_URL is not set: set it to redis:\/\//);
  });

  it('refuses an exchange type RabbitMQ does not have', () => {
    expect(() => optionsFromEnv({ BROKER_URL: 'amqp://h', AMQP_EXCHANGE_TYPE: 'round-robin' })).toThrow(
      'AMQP_EXCHANGE_TYPE=round-robin is not an exchange type: use direct, topic, fanout, headers.',
    );
  });
});

describe('connectFromEnv', () => {
  it('names the variable in its errors', async () => {
    const err = await connectFromEnv(
      {},
      { BROKER_URL: 'memory://', RESULT_BACKEND_URL: 'mongodb://u:pw@h' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toBe(
      'RESULT_BACKEND_URL=mongodb://u:***@h is not a supported result backend URL: use memory://, redis://, rediss://, amqp://, amqps://, memcache://, postgres://, postgresql://.',
    );
  });

  it('lets overrides win over the environment', async () => {
    const c = await connectFromEnv(
      { backend: 'memory://' },
      { BROKER_URL: 'memory://', RESULT_BACKEND_URL: 'redis://h' },
    );
    expect(c.urls.backend).toBe('memory://');
    await c.close();
  });
});
