import { type ChildProcess, spawn } from 'node:child_process';
import { eventually } from '@machinery/testing';
import { Redis } from 'ioredis';
import type { TestCertificates } from './certificates.js';
import { freePort } from './ports.js';
import { killProcess } from './processes.js';
import { EPHEMERAL_REDIS_ARGS } from './redis-server.js';

/** What {@link SecuredRedis.start} runs. */
export interface SecuredRedisOptions {
  /** `--requirepass`: the `default` user's password. */
  readonly password: string;
  /** With certificates the server listens for TLS only (`--port 0 --tls-port …`). */
  readonly certs?: TestCertificates;
}

/**
 * A password-protected redis-server of the test's own, on a free loopback port, without
 * persistence; with certificates it accepts TLS only (clients are not asked for certificates).
 */
export class SecuredRedis {
  private constructor(
    private child: ChildProcess | undefined,
    /** The port clients connect to: the TLS port with certificates, else the plain one. */
    readonly port: number,
    /** Whether it accepts TLS only (it was started with certificates). */
    readonly tls: boolean,
  ) {}

  /** `rediss://:<password>@127.0.0.1:<port>` with TLS, `redis://…` without. */
  url(password: string): string {
    return `${this.tls ? 'rediss' : 'redis'}://:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  /** Starts the server and waits until it answers an authenticated PING (over TLS with certificates). */
  static async start(options: SecuredRedisOptions): Promise<SecuredRedis> {
    const port = await freePort();
    const { certs } = options;
    const listen = certs
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          certs.certFile,
          '--tls-key-file',
          certs.keyFile,
          '--tls-ca-cert-file',
          certs.caFile,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
    const child = spawn(
      'redis-server',
      [...listen, ...EPHEMERAL_REDIS_ARGS, '--requirepass', options.password],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const server = new SecuredRedis(child, port, certs !== undefined);
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      password: options.password,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(certs ? { tls: { ca: certs.ca } } : {}),
    });
    probe.on('error', () => {});
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) {
            throw new Error(`redis-server exited with ${child.exitCode}: ${output}`);
          }
          if (probe.status !== 'ready') {
            probe.disconnect();
            await probe.connect();
          }
          await probe.ping();
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    } catch (err) {
      await server.stop();
      throw err;
    } finally {
      probe.disconnect();
    }
    return server;
  }

  /** Kills the server and waits until it exited. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killProcess(child);
  }
}
