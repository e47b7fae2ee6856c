import { isMachineryError, MachineryError, redactText, redactUrl } from '@machinery/core';
import type { Cluster, Redis } from 'ioredis';

/** The last connection error of each tracked client, until it is ready again. */
const lastConnectionErrors = new WeakMap<Redis | Cluster, Error>();

/**
 * Redacts every connection error of `client` before anyone else sees it (this listener is added
 * first, and ioredis rejects the queued commands with the same error object), and remembers the last
 * one until the client is ready again, so that a command failing later can say why.
 */
export function trackRedisConnectionErrors(client: Redis | Cluster): void {
  client.on('error', (err: unknown) => {
    redactRedisError(err);
    if (err instanceof Error) lastConnectionErrors.set(client, err);
  });
  client.on('ready', () => lastConnectionErrors.delete(client));
}

/** Positions of the arguments of a command that carry a password. */
function secretArguments(name: string, args: readonly unknown[]): number[] {
  const upper = args.map((a) => String(a).toUpperCase());
  switch (name.toLowerCase()) {
    case 'auth':
      // AUTH password | AUTH username password
      return [args.length - 1];
    case 'hello': {
      // HELLO protover [AUTH username password] [SETNAME name]
      const at = upper.indexOf('AUTH');
      return at < 0 ? [] : [at + 2];
    }
    case 'migrate': {
      // MIGRATE … [AUTH password | AUTH2 username password] [KEYS …]
      const out: number[] = [];
      const auth = upper.indexOf('AUTH');
      if (auth >= 0) out.push(auth + 1);
      const auth2 = upper.indexOf('AUTH2');
      if (auth2 >= 0) out.push(auth2 + 2);
      return out;
    }
    default:
      return [];
  }
}

/**
 * Hides the passwords ioredis keeps on its errors: a failed `AUTH` (or `HELLO 3 AUTH …`) rejects
 * every queued command with a reply error whose `command.args` holds the password, and a logger
 * that prints an error's fields (pino's serializer, `JSON.stringify`) would print it. Also walks
 * `cause` and a Cluster's `lastNodeError`. Mutates in place, since ioredis hands the same object to
 * every caller and listener. Returns `err`.
 */
export function redactRedisError<T>(err: T): T {
  const seen = new Set<object>();
  const visit = (e: unknown, depth: number): void => {
    if (typeof e !== 'object' || e === null || seen.has(e) || depth > 5) return;
    seen.add(e);
    const holder = e as { command?: unknown; cause?: unknown; lastNodeError?: unknown };
    const command = holder.command as { name?: unknown; args?: unknown } | null | undefined;
    if (command && typeof command.name === 'string' && Array.isArray(command.args)) {
      const args: unknown[] = command.args;
      const secret = secretArguments(command.name, args).filter((i) => i >= 0 && i < args.length);
      if (secret.length > 0) {
        try {
          // A new object: `args` is the array of the command itself, which ioredis still holds.
          holder.command = { ...command, args: args.map((a, i) => (secret.includes(i) ? '***' : a)) };
        } catch {
          // A frozen error keeps its fields; nothing else can be done about it here.
        }
      }
    }
    visit(holder.cause, depth + 1);
    visit(holder.lastNodeError, depth + 1);
  };
  visit(err, 0);
  return err;
}

/**
 * Turns a client error into a `MachineryError` (`ERR_CONNECTION`) that says what failed, without
 * secrets. Given the `client`, a command that failed because the client could not (re)connect also
 * names the last connection error (a refused connection, an untrusted certificate, a wrong password).
 */
export function redisConnectionError(
  what: string,
  where: string,
  err: unknown,
  client?: Redis | Cluster,
): MachineryError {
  if (isMachineryError(err)) return err;
  redactRedisError(err);
  // Without a final period: the message goes on after it.
  const text = (err instanceof Error ? err.message : String(err)).replace(/\.\s*$/, '');
  const last = client === undefined ? undefined : lastConnectionErrors.get(client);
  const because =
    last !== undefined && last !== err && !text.includes(last.message)
      ? ` (last connection error: ${redactText(last.message)})`
      : '';
  const hint = isTlsError(last ?? err)
    ? 'The TLS handshake failed: use rediss:// for a TLS port only, and pass the CA that signed the server certificate as clientOptions.tls.ca (keep certificate verification on).'
    : 'Check that Redis is reachable and the credentials are right; the client reconnects by itself.';
  return new MachineryError(
    'ERR_CONNECTION',
    `${what} failed on ${redactUrl(where)}: ${redactText(text)}${because}. ${hint}`,
    { cause: err },
  );
}

/** True for an error of the TLS layer: an untrusted or mismatched certificate, a failed handshake. */
function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/.test(code)
  );
}
