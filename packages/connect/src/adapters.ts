import {
  type Backend,
  type Broker,
  type Lock,
  type Logger,
  MachineryError,
  MemoryBackend,
  MemoryBroker,
  MemoryLock,
} from '@machinery/core';
import { named, schemeOf } from './labels.js';
import { loadAdapter } from './load-adapter.js';
import type { AmqpExchangeOptions } from './options.js';
import { assertSupported, type Role } from './schemes.js';
import { isSqsHttpsUrl, parseSqsUrl } from './sqs-url.js';

function unsupported(role: Role, url: string, label: string): never {
  assertSupported(role, url, label);
  throw new MachineryError('ERR_INVALID_ARGUMENT', `${named(label, url)} has no adapter.`);
}

/** What every adapter factory needs besides its URL. */
export interface AdapterContext {
  /** How messages name the URL (`BROKER_URL`, `backend`…). */
  readonly label: string;
  readonly logger: Logger;
  readonly defaultQueue?: string | undefined;
  readonly amqp?: AmqpExchangeOptions | undefined;
}

// Fields are copied only when set: with exactOptionalPropertyTypes an explicit `undefined` is not
// "unset", and the adapters must apply their own defaults.
function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

/**
 * Builds the broker a URL names, importing its adapter package only now.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an unsupported URL or an adapter that is not installed.
 */
export async function createBroker(url: string, ctx: AdapterContext): Promise<Broker> {
  const need = named(ctx.label, url);
  const common = defined({ logger: ctx.logger, defaultQueue: ctx.defaultQueue });
  switch (schemeOf(url)) {
    case 'memory':
      return new MemoryBroker(defined({ defaultQueue: ctx.defaultQueue }));
    case 'redis':
    case 'rediss': {
      const { RedisBroker } = await loadAdapter(
        '@machinery/broker-redis',
        need,
        () => import('@machinery/broker-redis'),
      );
      return new RedisBroker({ url, ...common });
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpBroker } = await loadAdapter(
        '@machinery/broker-amqp',
        need,
        () => import('@machinery/broker-amqp'),
      );
      return new AmqpBroker({ url, ...common, ...defined({ ...ctx.amqp }) });
    }
    case 'sqs':
    case 'https': {
      if (schemeOf(url) === 'https' && !isSqsHttpsUrl(url)) return unsupported('broker', url, ctx.label);
      const sqs = parseSqsUrl(url, need);
      const { SqsBroker } = await loadAdapter(
        '@machinery/broker-sqs',
        need,
        () => import('@machinery/broker-sqs'),
      );
      return new SqsBroker({ ...sqs, ...common });
    }
    case 'postgres':
    case 'postgresql': {
      const { PostgresBroker } = await loadAdapter(
        '@machinery/broker-postgres',
        need,
        () => import('@machinery/broker-postgres'),
      );
      return new PostgresBroker({ url, ...common });
    }
    default:
      return unsupported('broker', url, ctx.label);
  }
}

/**
 * Builds the result backend a URL names, importing its adapter package only now.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an unsupported URL or an adapter that is not installed.
 */
export async function createBackend(url: string, ctx: AdapterContext): Promise<Backend> {
  const need = named(ctx.label, url);
  switch (schemeOf(url)) {
    case 'memory':
      return new MemoryBackend();
    case 'redis':
    case 'rediss': {
      const { RedisBackend } = await loadAdapter(
        '@machinery/backend-redis',
        need,
        () => import('@machinery/backend-redis'),
      );
      return new RedisBackend({ url, logger: ctx.logger });
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpBackend } = await loadAdapter(
        '@machinery/backend-amqp',
        need,
        () => import('@machinery/backend-amqp'),
      );
      return new AmqpBackend({ url, logger: ctx.logger });
    }
    case 'memcache': {
      const servers = url.slice(url.indexOf('://') + 3).replace(/\/+$/, '');
      if (servers === '') {
        throw new MachineryError(
          'ERR_INVALID_ARGUMENT',
          `${need} names no server: use memcache://host:port[,host:port].`,
        );
      }
      const { MemcacheBackend } = await loadAdapter(
        '@machinery/backend-memcache',
        need,
        () => import('@machinery/backend-memcache'),
      );
      return new MemcacheBackend({ servers, logger: ctx.logger });
    }
    case 'postgres':
    case 'postgresql': {
      const { PostgresBackend } = await loadAdapter(
        '@machinery/backend-postgres',
        need,
        () => import('@machinery/backend-postgres'),
      );
      return new PostgresBackend({ url, logger: ctx.logger });
    }
    default:
      return unsupported('backend', url, ctx.label);
  }
}

/**
 * Builds the scheduler lock a URL names: Redis for a fleet, memory for one process.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an unsupported URL or an adapter that is not installed.
 */
export async function createLock(url: string, ctx: AdapterContext): Promise<Lock> {
  switch (schemeOf(url)) {
    case 'memory':
      return new MemoryLock();
    case 'redis':
    case 'rediss': {
      const need = named(ctx.label, url);
      const { RedisLock } = await loadAdapter(
        '@machinery/backend-redis',
        need,
        () => import('@machinery/backend-redis'),
      );
      return new RedisLock({ url });
    }
    default:
      return unsupported('lock', url, ctx.label);
  }
}
