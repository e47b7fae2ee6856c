import { MachineryError } from '@machinery/core';
import { named, schemeOf } from './labels.js';

/** The URL schemes each role accepts, in the order error messages list them. */
export const SUPPORTED_SCHEMES = {
  broker: [
    'memory://',
    'redis://',
    'rediss://',
    'amqp://',
    'amqps://',
    'https://sqs…',
    'sqs://',
    'postgres://',
    'postgresql://',
  ],
  backend: [
    'memory://',
    'redis://',
    'rediss://',
    'amqp://',
    'amqps://',
    'memcache://',
    'postgres://',
    'postgresql://',
  ],
  lock: ['memory://', 'redis://', 'rediss://'],
  control: [
    'memory://',
    'redis://',
    'rediss://',
    'amqp://',
    'amqps://',
    'memcache://',
    'postgres://',
    'postgresql://',
  ],
} as const;

/** A role a URL plays. */
export type Role = keyof typeof SUPPORTED_SCHEMES;

const ROLE_NAMES: Record<Role, string> = {
  broker: 'broker',
  backend: 'result backend',
  lock: 'lock',
  control: 'control plane',
};

/** True when `url` has a scheme `role` accepts (for `https`, only SQS hosts). */
export function isSupported(role: Role, url: string): boolean {
  const scheme = schemeOf(url);
  if (scheme === 'https') return role === 'broker' && /^https:\/\/sqs[.-]/i.test(url);
  return SUPPORTED_SCHEMES[role].includes(`${scheme}://` as never);
}

/**
 * One line naming the URL (credentials masked) and the schemes `role` accepts.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when `url` has a scheme `role` does not accept.
 */
export function assertSupported(role: Role, url: string, label: string): void {
  if (isSupported(role, url)) return;
  throw new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `${named(label, url)} is not a supported ${ROLE_NAMES[role]} URL: use ${SUPPORTED_SCHEMES[role].join(', ')}.`,
  );
}
