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

/** Builds a broker from a URL. */
export async function createBroker(url: string): Promise<Broker> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryBroker();
    default:
      return unsupported('broker', url);
  }
}

/** Builds a result backend from a URL. */
export async function createBackend(url: string): Promise<Backend> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryBackend();
    default:
      return unsupported('result backend', url);
  }
}

/** Builds the scheduler lock from a URL (defaults to the backend's when that is Redis). */
export async function createLock(url: string): Promise<Lock> {
  switch (scheme(url)) {
    case 'memory':
      return new MemoryLock();
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
