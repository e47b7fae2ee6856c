import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { AMQP_URL } from './amqp.js';
import { relay } from './relay.js';

/**
 * A TCP proxy in front of a service (RabbitMQ by default), so a test can cut every connection through
 * it and refuse new ones for a while — an outage as a client sees it — reset them, or lose replies in
 * transit, without touching the shared service. The soak runner cuts its workers' links with it too.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly upstreams = new Set<Socket>();
  private refusing = false;
  private listeningOn = 0;
  /** Connections accepted so far (reconnects show up here). */
  accepted = 0;

  constructor(
    private readonly targetHost = '127.0.0.1',
    private readonly targetPort = 5672,
  ) {}

  /**
   * Starts a proxy in front of the service at `url` (any scheme, host and port given); returns it and
   * `url` pointed at the proxy.
   */
  static async inFrontOf(url: string): Promise<{ proxy: TcpProxy; url: string }> {
    const target = new URL(url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    return { proxy, url: await proxy.start(url) };
  }

  /** Starts listening on a free port; returns `base` (default {@link AMQP_URL}) pointed at the proxy. */
  async start(base = AMQP_URL): Promise<string> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      this.accepted++;
      const upstream = tcpConnect(this.targetPort, this.targetHost);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.upstreams.add(upstream);
      upstream.on('close', () => this.upstreams.delete(upstream));
      relay(client, upstream, this.sockets);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.listeningOn = typeof address === 'object' && address ? address.port : 0;
    const url = new URL(base);
    url.hostname = '127.0.0.1';
    url.port = String(this.listeningOn);
    return url.toString();
  }

  /** The loopback port clients connect to (0 before {@link start}). */
  get port(): number {
    return this.listeningOn;
  }

  /** Cuts every open connection and refuses new ones until {@link resume}. */
  cut(): void {
    this.refusing = true;
    this.end('close');
  }

  /**
   * Resets every open connection (a TCP RST to both ends, as when a network path dies) and goes on
   * accepting new ones: clients must notice and reconnect. Returns the number of connections reset.
   */
  reset(): number {
    const connections = this.connections;
    this.end('reset');
    return connections;
  }

  /**
   * Passes requests on but throws the service's replies away for `ms`, then ends every connection
   * with a reset or an orderly close (new ones are accepted): the service has run commands whose
   * replies the client never got — as when a connection dies mid-reply. A client that resends
   * unanswered commands runs them twice.
   */
  async loseReplies(ms: number, end: 'reset' | 'close' = 'reset'): Promise<void> {
    for (const upstream of this.upstreams) {
      upstream.unpipe();
      upstream.on('data', () => {});
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.end(end);
  }

  /**
   * Ends every open connection: `reset` as from a connection that died (the client sees an error),
   * `close` in order (FIN), as when the server process exits.
   */
  private end(how: 'reset' | 'close'): void {
    for (const s of this.sockets) {
      // resetAndDestroy needs a connected socket; one still connecting is destroyed plainly.
      if (how === 'close' || s.connecting || s.destroyed) s.destroy();
      else s.resetAndDestroy();
    }
    this.sockets.clear();
  }

  /** Accepts connections again. */
  resume(): void {
    this.refusing = false;
  }

  /** Number of client connections currently proxied. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Stops the proxy and cuts what is left. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
