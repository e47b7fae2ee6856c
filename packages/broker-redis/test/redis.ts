import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '@machinery/testing';
import { type Cluster, Redis } from 'ioredis';

/** The shared test Redis (never flushed: every test works under its own key prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The key prefix of a test namespace: a hash tag, so every key of the test shares one Cluster slot. */
export const prefixOf = (namespace: string): string => `{${namespace}}:`;

/** Deletes every key starting with `prefix` (SCAN, never FLUSHDB), on every master of a Cluster. */
export async function deleteKeys(client: Redis | Cluster, prefix: string): Promise<void> {
  if (!(client instanceof Redis)) {
    await Promise.all(client.nodes('master').map((node) => deleteKeys(node, prefix)));
    return;
  }
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // One key per DEL: on a Cluster node, keys of one call must share a slot.
    await Promise.all(keys.map((key) => client.del(key)));
  } while (cursor !== '0');
}

/** A client for test set-up and inspection; connection errors (a server restarting) are expected. */
export function rawClient(url: string): Redis {
  const client = new Redis(url);
  client.on('error', () => {});
  return client;
}

/** A port nobody listens on right now (`port` 0: any). */
export async function freePort(port = 0): Promise<number> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await Promise.race([once(server, 'listening'), once(server, 'error')]);
  const address = server.address();
  const got = typeof address === 'object' && address ? address.port : 0;
  if (got !== 0) {
    server.close();
    await once(server, 'close');
  }
  return got;
}

/** Starts `redis-server` with `args` on `port` and waits until it answers PING. */
async function launchRedis(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...args,
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        if (probe.status !== 'ready') {
          probe.disconnect();
          await probe.connect();
        }
        await probe.ping();
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } finally {
    probe.disconnect();
  }
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * A redis-server of the test's own, on a free port, without persistence: for tests that restart Redis
 * (never the shared server).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

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
    if (child) await kill(child);
  }

  /** Stops the server and starts a new one on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}

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
    await Promise.all(this.children.map(kill));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
