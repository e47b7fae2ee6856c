import { afterEach, describe, expect, it } from 'vitest';
import {
  type Broker,
  group,
  MemoryBackend,
  MemoryBroker,
  Server,
  type Signature,
  signature,
  silentLogger,
  TaskStatus,
} from '../src/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A memory backend with the optional bulk write, recording how PENDING was stored. */
class BulkBackend extends MemoryBackend {
  readonly bulkCalls: string[][] = [];
  singles = 0;
  publishedBeforeStored = false;
  broker: MemoryBroker | undefined;

  override setStatePending(sig: Signature): Promise<void> {
    this.singles++;
    return super.setStatePending(sig);
  }

  async setStatesPending(sigs: readonly Signature[]): Promise<void> {
    this.bulkCalls.push(sigs.map((s) => s.name));
    if (((await this.broker?.pendingTasks()) ?? []).length > 0) this.publishedBeforeStored = true;
    await Promise.all(sigs.map((s) => super.setStatePending(s)));
  }
}

function make() {
  const backend = new BulkBackend();
  const broker = new MemoryBroker();
  backend.broker = broker;
  const server = new Server({
    broker,
    backend,
    logger: silentLogger,
    middleware: {
      publish: [
        async (ctx, next) => {
          if (ctx.signature.name !== 'dropped') await next();
        },
      ],
    },
  });
  servers.push(server);
  return { server, backend, broker };
}

describe('Sender: PENDING of bulk sends', () => {
  it('stores the PENDING of a sendMany with one bulk call, for the admitted signatures, before publishing', async () => {
    const { server, backend, broker } = make();
    const results = await server.sendMany([signature('a'), signature('dropped'), signature('b')]);
    expect(backend.bulkCalls).toEqual([['a', 'b']]);
    expect(backend.singles).toBe(0);
    expect(backend.publishedBeforeStored).toBe(false);
    expect(await broker.pendingTasks()).toHaveLength(2);
    for (const r of results.filter((_, i) => i !== 1)) {
      expect((await backend.getState(r.taskUUID))?.state).toBe(TaskStatus.PENDING);
    }
  });

  it('stores the PENDING of a group with one bulk call', async () => {
    const { server, backend } = make();
    await server.sendGroup(group(signature('a'), signature('b'), signature('c')));
    expect(backend.bulkCalls).toEqual([['a', 'b', 'c']]);
    expect(backend.singles).toBe(0);
  });

  it('stores a single send’s PENDING with setStatePending', async () => {
    const { server, backend } = make();
    await server.send(signature('a'));
    expect(backend.bulkCalls).toEqual([]);
    expect(backend.singles).toBe(1);
  });
});

/** A memory backend with the optional joint step: PENDING and the publication in one call. */
class JointBackend extends MemoryBackend {
  joint = 0;
  /** When `false`, declines every broker, as a backend on another server does. */
  accepts = true;

  setStatePendingAndPublish(sig: Signature, broker: Broker): Promise<void> | undefined {
    if (!this.accepts) return undefined;
    this.joint++;
    return super.setStatePending(sig).then(() => broker.publish(sig));
  }
}

describe('Sender: PENDING and publication in one step', () => {
  function server(backend: JointBackend) {
    const broker = new MemoryBroker();
    const s = new Server({ broker, backend, logger: silentLogger });
    servers.push(s);
    return { s, broker };
  }

  it('hands a single send to the backend’s joint step, which stores and publishes it', async () => {
    const backend = new JointBackend();
    const { s, broker } = server(backend);
    const r = await s.send(signature('a'));
    expect(backend.joint).toBe(1);
    expect((await backend.getState(r.taskUUID))?.state).toBe(TaskStatus.PENDING);
    expect((await broker.pendingTasks()).map((t) => t.uuid)).toEqual([r.taskUUID]);
  });

  it('stores and publishes separately when the backend declines the broker', async () => {
    const backend = new JointBackend();
    backend.accepts = false;
    const { s, broker } = server(backend);
    const r = await s.send(signature('a'));
    expect(backend.joint).toBe(0);
    expect((await backend.getState(r.taskUUID))?.state).toBe(TaskStatus.PENDING);
    expect((await broker.pendingTasks()).map((t) => t.uuid)).toEqual([r.taskUUID]);
  });
});
