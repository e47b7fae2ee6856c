import { type Socket, connect as tcpConnect } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { TestCertificates } from './certificates.js';
import { relay } from './relay.js';

/** What the proxy saw of one client's TLS handshake. */
export interface Handshake {
  /** SNI the client sent; `false` when it sent none (it connected to an IP address). */
  readonly servername: string | false;
  /** Common name of the certificate the client presented, if it presented one. */
  readonly clientCertificate: string | undefined;
}

/**
 * A TLS endpoint on loopback in front of the shared (plain) RabbitMQ: it completes the TLS handshake
 * with the test certificate, notes what the client sent (SNI, a client certificate: one is asked
 * for but not required), and forwards the decrypted bytes to
 * RabbitMQ, so `amqps://` is tested end to end without reconfiguring RabbitMQ.
 */
export class TlsProxy {
  /** Every completed handshake. */
  readonly handshakes: Handshake[] = [];
  /** Handshakes the client broke off (it did not trust the certificate). */
  readonly refused: Error[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  /** The loopback port it listens on (0 until {@link start}). */
  port = 0;

  constructor(
    private readonly certs: TestCertificates,
    private readonly targetPort = 5672,
  ) {}

  /** Starts listening on a free loopback port. */
  async start(): Promise<this> {
    const options = {
      cert: this.certs.cert,
      key: this.certs.key,
      requestCert: true,
      rejectUnauthorized: false,
    };
    const server = createServer(options, (client: TLSSocket) => {
      const presented = client.getPeerCertificate();
      this.handshakes.push({
        servername: client.servername ?? false,
        clientCertificate: typeof presented?.subject?.CN === 'string' ? presented.subject.CN : undefined,
      });
      relay(client, tcpConnect(this.targetPort, '127.0.0.1'), this.sockets);
    });
    server.on('tlsClientError', (err) => this.refused.push(err));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** `amqps://<user>:<password>@127.0.0.1:<port>/`. */
  url(user: string, password: string): string {
    return `amqps://${user}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/`;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
