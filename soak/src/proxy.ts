import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of one service. Workers connect to it instead of the service, so
 * the runner can cut every worker↔broker connection at once (`cut()`) without touching the service
 * or the other clients of it (the producer, the backend, other helpers' tests).
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Times `cut()` ran. */
  cuts = 0;
  /** Connections destroyed by all cuts together. */
  connectionsCut = 0;
  /** Connections accepted so far (reconnects show up here). */
  accepted = 0;

  private constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts a proxy to `host:port` on a free loopback port. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** The port clients connect to. */
  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy is not listening');
    return address.port;
  }

  /** Open proxied connections. */
  get open(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    const upstream = createConnection({ host: this.upstreamHost, port: this.upstreamPort });
    upstream.setNoDelay(true);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    // Errors are the point of this proxy (resets after a cut); both ends are simply closed.
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /**
   * Cuts every proxied connection: both ends get a TCP reset, as when a network path dies or a
   * load balancer drops its flows. Clients must notice and reconnect (through the proxy again).
   * Returns the number of connections cut.
   */
  cut(): number {
    this.cuts++;
    const pairs = [...this.pairs];
    this.pairs.clear();
    for (const [client, upstream] of pairs) {
      resetSocket(client);
      resetSocket(upstream);
    }
    this.connectionsCut += pairs.length;
    return pairs.length;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function resetSocket(socket: Socket): void {
  // resetAndDestroy needs a connected socket; one still connecting is destroyed plainly.
  if (socket.connecting || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
