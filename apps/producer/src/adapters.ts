import { AmqpBackend } from '@machinery/backend-amqp';
import { MemcacheBackend } from '@machinery/backend-memcache';
import { RedisBackend, RedisLock } from '@machinery/backend-redis';
import { AmqpBroker } from '@machinery/broker-amqp';
import { RedisBroker } from '@machinery/broker-redis';
import { SqsBroker } from '@machinery/broker-sqs';
import {
  type Backend,
  type Broker,
  type Lock,
  MachineryError,
  MemoryBackend,
  MemoryBroker,
  MemoryLock,
  redactUrl,
} from '@machinery/core';

// The composition root's URL → adapter factory. It lives in the sample apps, never in core: core knows
// nothing about adapters, and an application picks and constructs the ones it uses.

/** The adapters one process uses. */
export interface Adapters {
  broker: Broker;
  backend: Backend;
  lock: Lock;
}

/** URLs to compose from; `memory://` keeps everything in this process. */
export interface AdapterUrls {
  broker: string;
  backend: string;
  lock?: string;
}

function scheme(url: string): string {
  const i = url.indexOf('://');
  return i < 0 ? url : url.slice(0, i).toLowerCase();
}

function unsupported(kind: string, url: string): never {
  throw new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `Unsupported ${kind} URL ${redactUrl(url)}: use memory://, redis://, rediss://, amqp://, amqps://, https://sqs… or sqs://, memcache://.`,
  );
}

/**
 * SQS from Go Machinery's form (`https://sqs.<region>.amazonaws.com/<account>`: queues are appended to
 * it) or `sqs://[key:secret@]host:port[/<account>]?region=…` for an SQS-compatible endpoint such as a
 * local test server. Credentials otherwise come from the AWS SDK's default chain.
 */
function createSqsBroker(url: string): SqsBroker {
  const u = new URL(url);
  const region = u.searchParams.get('region') ?? /^sqs\.([^.]+)\./.exec(u.hostname)?.[1] ?? 'us-east-1';
  if (u.protocol === 'https:') return new SqsBroker({ region, queueUrlPrefix: url.replace(/\/+$/, '') });
  const endpoint = `http://${u.host}`;
  const credentials =
    u.username !== ''
      ? { accessKeyId: decodeURIComponent(u.username), secretAccessKey: decodeURIComponent(u.password) }
      : undefined;
  return new SqsBroker({ region, endpoint, ...(credentials ? { credentials } : {}) });
}

/** Builds a broker from a URL. */
export async function createBroker(url: string): Promise<Broker> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryBroker();
    case 'redis':
    case 'rediss':
      return new RedisBroker({ url });
    case 'amqp':
    case 'amqps':
      return new AmqpBroker({ url });
    case 'sqs':
      return createSqsBroker(url);
    case 'https':
      if (/^https:\/\/sqs[.-]/.test(url)) return createSqsBroker(url);
      return unsupported('broker', url);
    default:
      return unsupported('broker', url);
  }
}

/** Builds a result backend from a URL. */
export async function createBackend(url: string): Promise<Backend> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryBackend();
    case 'redis':
    case 'rediss':
      return new RedisBackend({ url });
    case 'amqp':
    case 'amqps':
      return new AmqpBackend({ url });
    case 'memcache':
      return new MemcacheBackend({ servers: url.slice('memcache://'.length) });
    default:
      return unsupported('result backend', url);
  }
}

/** Builds the scheduler lock from a URL: Redis for a fleet, memory for one process. */
export async function createLock(url: string): Promise<Lock> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryLock();
    case 'redis':
    case 'rediss':
      return new RedisLock({ url });
    default:
      return unsupported('lock', url);
  }
}

/** Reads `BROKER_URL`, `RESULT_BACKEND_URL` and `LOCK_URL` (all default to `memory://`). */
export function urlsFromEnv(env: NodeJS.ProcessEnv = process.env): AdapterUrls {
  const broker = env.BROKER_URL || 'memory://';
  const backend = env.RESULT_BACKEND_URL || (broker.startsWith('redis') ? broker : 'memory://');
  const lock = env.LOCK_URL || (backend.startsWith('redis') ? backend : 'memory://');
  return { broker, backend, lock };
}

/** Creates all three adapters. */
export async function createAdapters(urls: AdapterUrls): Promise<Adapters> {
  return {
    broker: await createBroker(urls.broker),
    backend: await createBackend(urls.backend),
    lock: await createLock(urls.lock ?? 'memory://'),
  };
}
