import {
  type Backend,
  type Broker,
  type ControlPlane,
  type Lock,
  type Logger,
  MachineryError,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  MemoryLock,
} from '@machinery/core';
import { exportedClass, missingExport } from './exported-class.js';
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

/** The `host:port[,host:port]` list of a `memcache://` URL. */
function memcacheServers(url: string, need: string): string {
  const servers = url.slice(url.indexOf('://') + 3).replace(/\/+$/, '');
  if (servers === '') {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${need} names no server: use memcache://host:port[,host:port].`,
    );
  }
  return servers;
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
      const servers = memcacheServers(url, need);
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

type ControlPlaneClass<O> = new (options: O) => ControlPlane;

/**
 * What {@link createControlPlane} built, or, when the installed backend package predates its control
 * plane class, the error that says which package to upgrade.
 */
export type ControlPlaneOutcome = { readonly control: ControlPlane } | { readonly missing: MachineryError };

/**
 * Builds the control plane a URL names, from the backend package of its technology, importing it only
 * now: `RedisControlPlane`, `AmqpControlPlane`, `MemcacheControlPlane`, `PostgresControlPlane`, or
 * core's `MemoryControlPlane`.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an unsupported URL or an adapter that is not installed.
 */
export async function createControlPlane(url: string, ctx: AdapterContext): Promise<ControlPlaneOutcome> {
  const need = named(ctx.label, url);
  const logger = ctx.logger;
  const build = <O>(mod: object, name: string, pkg: string, options: O): ControlPlaneOutcome => {
    const Class = exportedClass<ControlPlaneClass<O>>(mod, name);
    return Class === undefined
      ? { missing: missingExport(name, pkg, need) }
      : { control: new Class(options) };
  };
  switch (schemeOf(url)) {
    case 'memory':
      return { control: new MemoryControlPlane() };
    case 'redis':
    case 'rediss': {
      const { RedisControlPlane } = await loadAdapter(
        '@machinery/backend-redis',
        need,
        () => import('@machinery/backend-redis'),
      );
      return { control: new RedisControlPlane({ url, logger }) };
    }
    case 'amqp':
    case 'amqps': {
      const pkg = '@machinery/backend-amqp';
      const mod = await loadAdapter(pkg, need, () => import('@machinery/backend-amqp'));
      return build(mod, 'AmqpControlPlane', pkg, { url, logger });
    }
    case 'memcache': {
      const servers = memcacheServers(url, need);
      const pkg = '@machinery/backend-memcache';
      const mod = await loadAdapter(pkg, need, () => import('@machinery/backend-memcache'));
      return build(mod, 'MemcacheControlPlane', pkg, { servers, logger });
    }
    case 'postgres':
    case 'postgresql': {
      const pkg = '@machinery/backend-postgres';
      const mod = await loadAdapter(pkg, need, () => import('@machinery/backend-postgres'));
      return build(mod, 'PostgresControlPlane', pkg, { url, logger });
    }
    default:
      return unsupported('control', url, ctx.label);
  }
}
