import { crc32 } from 'node:zlib';
import { errorText, type Logger, MachineryError } from '@machinery/core';
import memjs from 'memjs';
import { failRequestsOnClose } from './closed-connections.js';
import type { MemcacheConnectionOptions } from './options.js';

/** A memjs client with what error messages may say about where it points. */
export interface MemcacheConnection {
  readonly client: memjs.Client;
  /** The servers without credentials, for error messages. */
  readonly where: string;
  /** True when the client was created here (and is closed by its owner). */
  readonly ownsClient: boolean;
}

/**
 * The client given in `options`, or a new one on `options.servers` with the settings every memjs
 * client of this package shares: memjs's chatter at debug, gomemcache's server choice, and requests
 * failed (so memjs retries them) when the server closes a connection cleanly.
 */
export function openMemcache(options: MemcacheConnectionOptions, logger: Logger): MemcacheConnection {
  const servers = (options.servers ?? '127.0.0.1:11211').replace(/^memcache:\/\//i, '');
  // Never put SASL credentials into messages.
  const where = servers
    .split(',')
    .map((s) => s.slice(s.lastIndexOf('@') + 1))
    .join(',');
  if (options.client) return { client: options.client, where, ownsClient: false };
  const client = memjs.Client.create(servers, {
    // memjs logs every failure it also reports to us; keep that at debug.
    logger: {
      log: (...args: unknown[]) => logger.debug({ detail: args.map(String).join(' ') }, 'memjs'),
    },
    ...options.clientOptions,
  });
  // gomemcache picks a server by CRC-32 (IEEE) of the key; so must we, or a Go reader looks on the
  // wrong server when there are several.
  client.getServer = ((key: string) => crc32(key) % client.servers.length) as unknown as (
    key: string,
  ) => string;
  failRequestsOnClose(client);
  return { client, where, ownsClient: true };
}

/**
 * The error to reject with when memcached command `op` on `key` failed; `shrink` tells the caller what
 * to make smaller when the value was over memcached's item size.
 */
export function memcacheError(
  op: string,
  key: string,
  where: string,
  err: unknown,
  shrink: string,
): MachineryError {
  const text = errorText(err);
  if (/too large/i.test(text)) {
    return new MachineryError(
      'ERR_PAYLOAD_TOO_LARGE',
      `Memcache ${op} of key "${key}" failed: ${text}. The value exceeds memcached's item size (-I, 1 MiB by default); ${shrink}.`,
      { cause: err },
    );
  }
  return new MachineryError(
    'ERR_CONNECTION',
    `Memcache ${op} of key "${key}" failed: ${text}. Check that memcached is running at ${where}.`,
    { cause: err },
  );
}
