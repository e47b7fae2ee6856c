import { MachineryError, redactUrl } from '@machinery/core';
import type { SocketOptions } from 'amqplib';

/** Who logs in where: the user and vhost a connection attempt used (never the password). */
function loginOf(url: string, clientOptions: SocketOptions): { user: string; vhost: string } {
  let user = 'guest';
  let vhost = '/';
  try {
    const u = new URL(url);
    if (u.username !== '') user = decodeURIComponent(u.username);
    // amqplib's rule: the path after the first slash, percent-decoded, is the vhost; none means "/".
    if (u.pathname.length > 1) vhost = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // resolveAmqpUrls has checked the URL already; keep the defaults.
  }
  const fromCredentials = (clientOptions.credentials as { username?: unknown } | undefined)?.username;
  if (typeof fromCredentials === 'string' && fromCredentials !== '') user = fromCredentials;
  return { user, vhost };
}

/**
 * The error for a connection attempt RabbitMQ answered but refused — a wrong user or password
 * (403 ACCESS_REFUSED during the handshake) or a vhost it will not open (a `connection.close` instead
 * of `connection.open-ok`: the vhost does not exist, or the user has no permission on it) — or
 * `undefined` for any other failure. A refusal is a configuration error, not an outage: retrying
 * does not help until someone fixes the URL or RabbitMQ's users, so callers report it at once.
 */
export function refusalError(
  err: unknown,
  url: string,
  clientOptions: SocketOptions,
  role: string,
): MachineryError | undefined {
  const message = err instanceof Error ? err.message : '';
  const { user, vhost } = loginOf(url, clientOptions);
  const where = redactUrl(url);
  if (/Handshake terminated by server: 403|ACCESS.REFUSED/.test(message)) {
    return new MachineryError(
      'ERR_CONNECTION',
      `RabbitMQ refused the login for user ${user}: wrong user or password (403 ACCESS_REFUSED, ${where}). ` +
        `Fix the credentials of the ${role} (percent-encode special characters in the URL), or create the user in RabbitMQ (rabbitmqctl add_user).`,
      { cause: err },
    );
  }
  if (
    /Expected ConnectionOpenOk; got <ConnectionClose/.test(message) ||
    /Handshake terminated by server: 530/.test(message)
  ) {
    return new MachineryError(
      'ERR_CONNECTION',
      `RabbitMQ refused to open vhost ${vhost} for user ${user}: vhost ${vhost} does not exist, or the user has no permissions on it (${where}). ` +
        `Fix the vhost in the URL of the ${role} (the path after the port, "/" percent-encoded as %2F), or create it and grant access (rabbitmqctl add_vhost, rabbitmqctl set_permissions -p).`,
      { cause: err },
    );
  }
  return undefined;
}
