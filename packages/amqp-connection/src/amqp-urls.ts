import { MachineryError, redactUrl } from '@machinery/core';

/** True for a URL amqplib can connect to: parseable, with the `amqp:` or `amqps:` scheme. */
function isAmqpUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'amqp:' || protocol === 'amqps:';
  } catch {
    return false;
  }
}

/**
 * The `url` option of an AMQP adapter as a list (one URL or several, tried in turn), defaulting to the
 * local RabbitMQ.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` naming `owner` for an empty list or a URL amqplib cannot
 * use — checked here because Node's own error would carry the whole URL, password included.
 */
export function resolveAmqpUrls(url: string | readonly string[] | undefined, owner: string): string[] {
  const urls =
    url === undefined ? ['amqp://guest:guest@localhost:5672/'] : typeof url === 'string' ? [url] : [...url];
  if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || u === '')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${owner} option url must be a RabbitMQ URL or a non-empty list of them.`,
    );
  }
  for (const u of urls) {
    if (!isAmqpUrl(u)) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `${owner} option url must be amqp://user:password@host:5672/vhost, or amqps://… for TLS (percent-encode special characters of the password); got ${redactUrl(u)}.`,
      );
    }
  }
  return urls;
}
