import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { AMQP_URL } from './amqp.js';
import { relay } from './relay.js';

/**
 * A TCP proxy in front of RabbitMQ, so a test can cut every connection through it and refuse new ones
 * for a while — an outage as a client sees it — without touching the shared RabbitMQ.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private port = 0;

  constructor(
    private readonly targetHost = '127.0.0.1',
    private readonly targetPort = 5672,
  ) {}

  /** Starts listening on a free port; returns the AMQP URL (of {@link AMQP_URL}) through the proxy. */
  async start(): Promise<string> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      relay(client, tcpConnect(this.targetPort, this.targetHost), this.sockets);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    const url = new URL(AMQP_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Cuts every open connection and refuses new ones until {@link resume}. */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
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
