import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '@machinery/testing';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { killProcess } from './processes.js';
import { launchRedis } from './redis-server.js';

/** A Redis Cluster of three masters of the test's own (private ports, no persistence). */
export class PrivateCluster {
  private constructor(
    private readonly children: ChildProcess[],
    private readonly dir: string,
    /** The nodes' ports. */
    readonly ports: number[],
  ) {}

  /** Seed nodes for `new Cluster(…)`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`, waits for `ok`. */
  static async start(): Promise<PrivateCluster> {
    const ports: number[] = [];
    while (ports.length < 3) {
      const port = await freePort();
      // The cluster bus listens on port + 10000.
      if (port <= 55_000 && !ports.includes(port) && (await freePort(port + 10_000)) !== 0) ports.push(port);
    }
    const dir = mkdtempSync(join(tmpdir(), 'machinery-cluster-'));
    const children: ChildProcess[] = [];
    const cluster = new PrivateCluster(children, dir, ports);
    try {
      for (const port of ports) {
        children.push(
          await launchRedis(port, [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--dir',
            dir,
          ]),
        );
      }
      await promisify(execFile)('redis-cli', [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-yes',
      ]);
      await eventually(
        async () => {
          for (const port of ports) {
            const node = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 });
            try {
              const info = await node.cluster('INFO');
              if (!String(info).includes('cluster_state:ok'))
                throw new Error(`node ${port}: cluster not ready`);
            } finally {
              node.disconnect();
            }
          }
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Stops every node and removes their files. */
  async stop(): Promise<void> {
    await Promise.all(this.children.map(killProcess));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
