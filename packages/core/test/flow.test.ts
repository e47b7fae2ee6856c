import { describe, expect, it } from 'vitest';
import {
  defineTask,
  type FlowControl,
  isMachineryError,
  MemoryBackend,
  MemoryBroker,
  MemoryFlowControl,
  type RateLimitStore,
  Server,
  silentLogger,
  TaskStatus,
} from '../src/index.js';

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

/** A memory flow control whose store calls are counted (and which can be made to fail). */
function countedFlow(): {
  flow: FlowControl;
  calls: { rate: number; slots: number };
  fail: { rate: number };
} {
  const inner = new MemoryFlowControl();
  const calls = { rate: 0, slots: 0 };
  const fail = { rate: 0 };
  const rateLimits: RateLimitStore = {
    acquire: (key, uuid, rule, withdrawMs) => {
      calls.rate++;
      if (fail.rate > 0) {
        fail.rate--;
        return Promise.reject(new Error('store unreachable'));
      }
      return inner.rateLimits.acquire(key, uuid, rule, withdrawMs);
    },
  };
  const concurrency = {
    acquire: (key: string, holder: string, max: number, leaseMs: number) => {
      calls.slots++;
      return inner.concurrency.acquire(key, holder, max, leaseMs);
    },
    renew: inner.concurrency.renew,
    release: inner.concurrency.release,
  };
  return { flow: { rateLimits, concurrency, unique: inner.unique, close: () => inner.close() }, calls, fail };
}

describe('flow control options', () => {
  it('refuses to register a task whose limit has no store, naming the store to pass', () => {
    const server = new Server({ broker: new MemoryBroker(), logger: silentLogger });
    const limited = defineTask('limited', () => {}, { rateLimit: { max: 1, perMs: 1000 } });
    const error = (() => {
      try {
        server.register(limited);
      } catch (err) {
        return err;
      }
    })();
    expect(isMachineryError(error, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/flow\.rateLimits/);
    const slotted = defineTask('slotted', () => {}, { concurrencyLimit: { max: 1 } });
    expect(() => server.register(slotted)).toThrow(/flow\.concurrency/);
  });

  it('refuses invalid limits at registration', () => {
    const server = new Server({
      broker: new MemoryBroker(),
      flow: new MemoryFlowControl(),
      logger: silentLogger,
    });
    expect(() => server.register(defineTask('a', () => {}, { rateLimit: { max: 0, perMs: 1000 } }))).toThrow(
      /invalid rateLimit/,
    );
    expect(() => server.register(defineTask('b', () => {}, { concurrencyLimit: { max: 1.5 } }))).toThrow(
      /invalid concurrencyLimit/,
    );
    expect(() => defineTask('c', () => {}, { unique: { forMs: 0 } })).toThrow(/unique\.forMs/);
  });

  it('refuses to send a unique task without a unique store (it would be sent twice)', async () => {
    const server = new Server({ broker: new MemoryBroker(), logger: silentLogger });
    const once = defineTask('once', (_id: string) => {}, { unique: { forMs: 1000 } });
    await expect(server.send(once.signature('x'))).rejects.toThrow(/flow\.unique/);
  });
});

describe('flow middleware', () => {
  it('a task without limits makes no store call, beside limited ones that do', async () => {
    const { flow, calls } = countedFlow();
    const server = new Server({
      broker: new MemoryBroker(),
      backend: new MemoryBackend(),
      flow,
      logger: silentLogger,
    });
    const free = defineTask('free', () => 1);
    const limited = defineTask('limited', () => 2, {
      rateLimit: { max: 1000, perMs: 1000 },
      concurrencyLimit: { max: 100 },
    });
    server.register(free, limited);
    await server.worker({ handleSignals: false }).start();
    for (const r of await server.sendMany(Array.from({ length: 20 }, () => free.signature())))
      expect(await r.get()).toBe(1);
    expect(calls).toEqual({ rate: 0, slots: 0 });
    expect(await (await server.send(limited.signature())).get()).toBe(2);
    expect(calls).toEqual({ rate: 1, slots: 1 });
    await server.close();
  });

  it('counts limits per key of the arguments: another key runs while one waits', async () => {
    const server = new Server({
      broker: new MemoryBroker(),
      backend: new MemoryBackend(),
      flow: new MemoryFlowControl(),
      logger: silentLogger,
    });
    const fetchPage = defineTask('fetch', (url: string) => url, {
      rateLimit: { max: 1, perMs: 60_000, key: (url) => new URL(url).host },
    });
    server.register(fetchPage);
    const worker = server.worker({ handleSignals: false });
    const handedBack: string[] = [];
    worker.on('handedBack', ({ signature }) => handedBack.push(signature.uuid));
    await worker.start();
    const a1 = await server.send(fetchPage.signature('https://a.example/1'));
    expect(await a1.get()).toBe('https://a.example/1');
    const a2 = await server.send(fetchPage.signature('https://a.example/2'));
    const b1 = await server.send(fetchPage.signature('https://b.example/1'));
    expect(await b1.get()).toBe('https://b.example/1');
    await until(() => handedBack.includes(a2.taskUUID));
    // Waiting for its reserved start a minute away: handed back, not run, nothing stored but PENDING.
    expect((await server.backend?.getState(a2.taskUUID))?.state).toBe(TaskStatus.PENDING);
    await server.close();
  });

  it('hands a task back when the store cannot be reached, reports it, and runs it once the store answers', async () => {
    const { flow, fail } = countedFlow();
    fail.rate = 2;
    const server = new Server({
      broker: new MemoryBroker(),
      backend: new MemoryBackend(),
      flow,
      logger: silentLogger,
    });
    let runs = 0;
    const limited = defineTask(
      'limited',
      () => {
        runs++;
      },
      { rateLimit: { max: 100, perMs: 1000 } },
    );
    server.register(limited);
    const worker = server.worker({ handleSignals: false });
    const errors: unknown[] = [];
    worker.on('error', ({ error }) => errors.push(error));
    await worker.start();
    const result = await server.send(limited.signature());
    const state = await result.wait({ timeoutMs: 10_000 });
    // No retry was spent (retryCount 0 would have made it FAILURE) and it ran once.
    expect(state.state).toBe(TaskStatus.SUCCESS);
    expect(runs).toBe(1);
    expect(errors).toHaveLength(2);
    await server.close();
  });
});
