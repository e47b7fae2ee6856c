import { MachineryError } from '@machinery/core';
import { type Labels, named, schemeOf } from './labels.js';
import { assertSupported } from './schemes.js';

/** The URLs {@link connect} uses, after defaults, and which of them were defaulted. */
export interface ResolvedUrls {
  readonly broker: string;
  readonly backend: string;
  readonly lock: string;
  /** `undefined`: no control plane (`control: false`). */
  readonly control: string | undefined;
  /** True when `backend` was not given and was derived from the broker. */
  readonly backendDefaulted: boolean;
  /** True when `lock` was not given and was derived from the backend or the broker. */
  readonly lockDefaulted: boolean;
  /** True when `control` was not given and was derived from the backend. */
  readonly controlDefaulted: boolean;
}

/**
 * The result backend a broker URL implies when none is given: the same URL when the broker's
 * technology stores results (memory, Redis, AMQP — as Go Machinery's examples configure it — and
 * PostgreSQL, the same database), else
 * `undefined` (SQS stores no results, so a silent `memory://` would leave every result unreadable).
 */
export function defaultBackendUrl(brokerUrl: string): string | undefined {
  switch (schemeOf(brokerUrl)) {
    case 'memory':
    case 'redis':
    case 'rediss':
    case 'amqp':
    case 'amqps':
    case 'postgres':
    case 'postgresql':
      return brokerUrl;
    default:
      return undefined;
  }
}

/** The lock a backend and broker imply: the first of them that is Redis, else `memory://`. */
export function defaultLockUrl(brokerUrl: string, backendUrl: string): string {
  for (const url of [backendUrl, brokerUrl]) {
    const scheme = schemeOf(url);
    if (scheme === 'redis' || scheme === 'rediss') return url;
  }
  return 'memory://';
}

/**
 * The control plane a result backend implies: the same server. Every backend technology has a control
 * plane of its own (in its adapter package), so revocations, pauses, workers and events need no
 * service beyond the ones results already use.
 */
export function defaultControlUrl(backendUrl: string): string {
  return backendUrl;
}

/**
 * Applies the defaults.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when no backend is given and the broker cannot store results.
 */
export function resolveUrls(
  urls: {
    broker: string;
    backend?: string | undefined;
    lock?: string | undefined;
    control?: string | false | undefined;
  },
  labels: Labels,
): ResolvedUrls {
  const broker = urls.broker.trim();
  if (broker === '') {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${labels.broker} is empty: set it to redis://, amqp://, postgres://, sqs:// or https://sqs…, or memory:// for one process.`,
    );
  }
  assertSupported('broker', broker, labels.broker);
  const given = urls.backend?.trim() || undefined;
  if (given !== undefined) assertSupported('backend', given, labels.backend);
  const backend = given ?? defaultBackendUrl(broker);
  if (backend === undefined) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${named(labels.broker, broker)} cannot store results and ${labels.backend} is not set: set ${labels.backend} to redis://, memcache://, postgres:// or amqp://.`,
    );
  }
  const lock = urls.lock?.trim() || undefined;
  if (lock !== undefined) assertSupported('lock', lock, labels.lock);
  const control = urls.control === false ? false : urls.control?.trim() || undefined;
  if (typeof control === 'string') assertSupported('control', control, labels.control);
  return {
    broker,
    backend,
    lock: lock ?? defaultLockUrl(broker, backend),
    control: control === false ? undefined : (control ?? defaultControlUrl(backend)),
    backendDefaulted: given === undefined,
    lockDefaulted: lock === undefined,
    controlDefaulted: control === undefined,
  };
}
