import { redactUrl } from '@machinery/core';

/** How errors name each URL: an option name (`broker`) or the environment variable it came from. */
export interface Labels {
  readonly broker: string;
  readonly backend: string;
  readonly lock: string;
  readonly control: string;
}

/** Labels for URLs passed as options. */
export const OPTION_LABELS: Labels = {
  broker: 'broker',
  backend: 'backend',
  lock: 'lock',
  control: 'control',
};

/** Labels for URLs read from the environment. */
export const ENV_LABELS: Labels = {
  broker: 'BROKER_URL',
  backend: 'RESULT_BACKEND_URL',
  lock: 'LOCK_URL',
  control: 'CONTROL_URL',
};

/**
 * `RESULT_BACKEND_URL=memcache://host:11211` for an environment variable, `backend URL memcache://…`
 * for an option; the password is always masked.
 */
export function named(label: string, url: string): string {
  return /^[A-Z][A-Z0-9_]*$/.test(label) ? `${label}=${redactUrl(url)}` : `${label} URL ${redactUrl(url)}`;
}

/** The lower-cased scheme of a URL (`amqps` for `AMQPS://…`), or `''` when there is none. */
export function schemeOf(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return match?.[1]?.toLowerCase() ?? '';
}
