import type { RedisOptions } from 'ioredis';
import { SECRET } from './secrets.js';

/** Connection options of a Redis adapter (`url` and ioredis `clientOptions`) that carry {@link SECRET}. */
export interface RedisPasswordForm {
  /** How the password reaches the client, for the test title. */
  readonly name: string;
  /** The options for a server on loopback `port`. */
  readonly options: (port: number) => { url: string; clientOptions?: RedisOptions };
}

/**
 * Every way a password reaches an ioredis client through an adapter's options: in the URL (with and
 * without an ACL user), in `clientOptions`, and in the URL over RESP2 (AUTH instead of HELLO).
 */
export const REDIS_PASSWORD_FORMS: readonly RedisPasswordForm[] = [
  { name: 'password in the URL', options: (port) => ({ url: `redis://:${SECRET}@127.0.0.1:${port}` }) },
  {
    name: 'ACL username and password in the URL',
    options: (port) => ({ url: `redis://machinery:${SECRET}@127.0.0.1:${port}/0` }),
  },
  {
    name: 'password in clientOptions',
    options: (port) => ({ url: `redis://127.0.0.1:${port}`, clientOptions: { password: SECRET } }),
  },
  {
    name: 'password in the URL over RESP2 (AUTH instead of HELLO)',
    options: (port) => ({ url: `redis://:${SECRET}@127.0.0.1:${port}`, clientOptions: { protocol: 2 } }),
  },
];
