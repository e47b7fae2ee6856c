import { backoffDelay, errorText, type Logger, MachineryError, redactText, redactUrl } from '@machinery/core';
import { type ChannelModel, connect, type SocketOptions } from 'amqplib';
import { refusalError } from './refusal.js';

/** One live AMQP connection. A reconnect makes a new `Link` with a higher `generation`. */
export interface Link {
  readonly model: ChannelModel;
  readonly generation: number;
  /** Set once the connection is gone; channels opened on it are dead. */
  closed: boolean;
}

/** What a {@link ConnectionManager} needs. */
export interface ConnectionManagerOptions {
  readonly urls: readonly string[];
  readonly client: ChannelModel | undefined;
  readonly clientOptions: SocketOptions;
  readonly connectionName: string;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly logger: Logger;
  /** Who owns the connection, for messages: "AMQP broker". */
  readonly role: string;
}

interface Waiter {
  readonly resolve: (link: Link) => void;
  readonly reject: (err: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

const noop = () => {};

/**
 * Keeps one connection to RabbitMQ open: connects on first use, and after the connection is lost
 * reconnects in the background with capped, jittered back-off, trying each URL in turn. Callers ask
 * for the current link with a bound on how long they will wait; listeners hear about every new link
 * (consumers resume on it).
 *
 * A refusal — a wrong user or password, a vhost that does not exist or may not be used — is not an
 * outage: every caller waiting for a link is rejected at once with an error naming the cause, and so
 * is every later caller until a connection succeeds (the manager keeps trying in the background, so
 * fixing the user in RabbitMQ is enough to recover).
 *
 * @example
 * ```ts
 * const manager = new ConnectionManager({ urls: resolveAmqpUrls(url, 'MyBroker'), client: undefined,
 *   clientOptions: {}, connectionName: 'my-broker', initialDelayMs: 100, maxDelayMs: 10_000,
 *   logger, role: 'my broker' })
 * const link = await manager.link(30_000)
 * const channel = await link.model.createConfirmChannel()
 * ```
 */
export class ConnectionManager {
  private current: Link | undefined;
  private generation = 0;
  private connecting = false;
  private attempt = 0;
  private urlIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastError: unknown;
  /** Set when RabbitMQ refused the last attempt (login or vhost); cleared by the next connection. */
  private refused: MachineryError | undefined;
  private closed = false;
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(link: Link) => void>();
  private readonly clientListeners: Array<[string, Parameters<ChannelModel['off']>[1]]> = [];

  constructor(private readonly options: ConnectionManagerOptions) {
    if (options.client) this.adopt(options.client, false);
  }

  /** The live link, if any (no waiting). */
  get live(): Link | undefined {
    return this.current && !this.current.closed ? this.current : undefined;
  }

  /**
   * The live link, connecting first if needed.
   * @throws MachineryError `ERR_CONNECTION` when none is available within `timeoutMs`, or at once when
   * RabbitMQ refused the login or the vhost (the message names which); `ERR_CLOSED` after `close()`.
   */
  link(timeoutMs: number): Promise<Link> {
    if (this.closed) return Promise.reject(this.closedError());
    const live = this.live;
    if (live) return Promise.resolve(live);
    if (this.options.client) {
      return Promise.reject(
        new MachineryError(
          'ERR_CONNECTION',
          `The amqplib connection passed to the ${this.options.role} as \`client\` is closed, and a connection the ${this.options.role} did not open is never reopened. Pass \`url\` instead to get automatic reconnects.`,
        ),
      );
    }
    this.ensureConnecting();
    if (this.refused) return Promise.reject(this.refused);
    return new Promise<Link>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.unreachable(timeoutMs));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Calls `listener` with every new link from now on; returns the unsubscribe function. */
  onLink(listener: (link: Link) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the connection (if this manager opened it) and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.closedError());
    }
    this.waiters.clear();
    this.listeners.clear();
    const link = this.current;
    this.current = undefined;
    if (this.options.client) {
      for (const [event, fn] of this.clientListeners) this.options.client.off(event, fn);
      return;
    }
    if (link && !link.closed) {
      link.closed = true;
      await link.model.close().catch(noop);
    }
  }

  private closedError(): MachineryError {
    return new MachineryError('ERR_CLOSED', `The ${this.options.role} is closed.`);
  }

  private unreachable(timeoutMs: number): MachineryError {
    const urls = this.options.urls.map(redactUrl).join(', ');
    const why = this.lastError === undefined ? '' : ` Last error: ${redactText(errorText(this.lastError))}.`;
    const hint = isTlsError(this.lastError)
      ? "The TLS handshake failed: use amqps:// for RabbitMQ's TLS port (5671) only, and pass the CA that signed its certificate as clientOptions.ca (with clientOptions.servername when the certificate names a host other than the one in the URL); keep certificate verification on."
      : 'Check that RabbitMQ is running and the URL and credentials are right.';
    return new MachineryError(
      'ERR_CONNECTION',
      `The ${this.options.role} could not reach RabbitMQ at ${urls} within ${timeoutMs} ms.${why} ${hint}`,
      { cause: this.lastError },
    );
  }

  private ensureConnecting(): void {
    if (this.connecting || this.timer !== undefined || this.closed || this.live) return;
    void this.tryConnect();
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer !== undefined) return;
    // Referenced on purpose: a worker whose only pending work is reconnecting must stay alive.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryConnect();
    }, delayMs);
  }

  private async tryConnect(): Promise<void> {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    const urls = this.options.urls;
    const url = urls[this.urlIndex++ % urls.length] as string;
    try {
      const clientOptions = this.options.clientOptions;
      const model = await connect(url, {
        // Without TCP_NODELAY a small frame (an ack, a publish) can wait ~40 ms for the peer's delayed ACK.
        noDelay: true,
        timeout: 10_000,
        ...clientOptions,
        clientProperties: { ...clientOptions.clientProperties, connection_name: this.options.connectionName },
      });
      if (this.closed) {
        await model.close().catch(noop);
        return;
      }
      this.adopt(model, true);
    } catch (err) {
      this.lastError = err;
      this.attempt++;
      const delayMs = backoffDelay(this.attempt, this.options.initialDelayMs, this.options.maxDelayMs);
      const refusal = refusalError(err, url, this.options.clientOptions, this.options.role);
      const fields = {
        url: redactUrl(url),
        attempt: this.attempt,
        retryInMs: delayMs,
        err: redactText(errorText(err)),
      };
      if (refusal) {
        // Waiting out connectTimeoutMs would only hide the cause: fail every waiter now.
        this.refused = refusal;
        this.options.logger.error(
          fields,
          `${this.options.role}: RabbitMQ refused the connection, retrying: ${refusal.message}`,
        );
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(refusal);
        }
        this.waiters.clear();
      } else {
        this.refused = undefined;
        this.options.logger.warn(fields, `${this.options.role}: cannot connect to RabbitMQ, retrying`);
      }
      this.schedule(delayMs);
    } finally {
      this.connecting = false;
    }
  }

  private adopt(model: ChannelModel, owned: boolean): void {
    const link: Link = { model, generation: ++this.generation, closed: false };
    const logger = this.options.logger;
    const onError = (err: Error) => {
      // Always followed by 'close'; listening here keeps the error from crashing the process.
      logger.warn({ err: redactText(errorText(err)) }, `${this.options.role}: RabbitMQ connection error`);
    };
    const onClose = (err?: Error) => {
      link.closed = true;
      if (this.current !== link) return;
      this.current = undefined;
      if (this.closed) return;
      this.lastError = err;
      logger.warn(
        { generation: link.generation, err: err ? redactText(errorText(err)) : undefined },
        `${this.options.role}: RabbitMQ connection lost${owned ? ', reconnecting' : ''}`,
      );
      if (owned) this.schedule(backoffDelay(1, this.options.initialDelayMs, this.options.maxDelayMs));
    };
    const onBlocked = (reason: string) =>
      logger.warn({ reason }, `${this.options.role}: RabbitMQ blocked this connection (resource alarm)`);
    const onUnblocked = () => logger.info({}, `${this.options.role}: RabbitMQ unblocked this connection`);
    model.on('error', onError);
    model.on('close', onClose);
    model.on('blocked', onBlocked);
    model.on('unblocked', onUnblocked);
    if (!owned) {
      this.clientListeners.push(
        ['error', onError],
        ['close', onClose],
        ['blocked', onBlocked],
        ['unblocked', onUnblocked],
      );
    }
    this.current = link;
    this.attempt = 0;
    this.lastError = undefined;
    this.refused = undefined;
    if (owned && link.generation > 1)
      logger.info({ generation: link.generation }, `${this.options.role}: reconnected`);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(link);
    }
    this.waiters.clear();
    for (const listener of [...this.listeners]) {
      try {
        listener(link);
      } catch (err) {
        logger.error({ err }, `${this.options.role}: a reconnect listener failed`);
      }
    }
  }
}

/** True for an error of the TLS layer: an untrusted or mismatched certificate, a failed handshake. */
function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/.test(code)
  );
}
