import type { ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';
import { killProcess } from './processes.js';
import { launchRedis } from './redis-server.js';

/**
 * A redis-server of the test's own, on a free port, without persistence: for tests that restart Redis
 * (never the shared server).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    /** The loopback port it listens on. */
    readonly port: number,
  ) {}

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port and waits until it answers. */
  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort());
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    this.child = await launchRedis(this.port, []);
  }

  /** Stops the server (its data is gone) and waits until it exited. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killProcess(child);
  }

  /** Stops the server and starts a new one on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}
