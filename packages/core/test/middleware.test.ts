import { afterEach, describe, expect, it } from 'vitest';
import {
  chord,
  defineTask,
  group,
  isMachineryError,
  isTaskRevoked,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  type MiddlewareOptions,
  type PublishOrigin,
  RetryLater,
  type RunOutcome,
  Server,
  signature,
  silentLogger,
  TaskStatus,
} from '../src/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function make(middleware: MiddlewareOptions) {
  const backend = new MemoryBackend();
  const server = new Server({ broker: new MemoryBroker(), backend, logger: silentLogger, middleware });
  servers.push(server);
  return { server, backend };
}

async function until(check: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('publish middleware', () => {
  it('runs in registration order, outermost first, around storing PENDING and publishing', async () => {
    const seen: string[] = [];
    const { server, backend } = make({
      publish: [
        async (_ctx, next) => {
          seen.push('outer:before');
          await next();
          seen.push('outer:after');
        },
        async (ctx, next) => {
          seen.push(`inner:before:${await backend.getState(ctx.signature.uuid).then((s) => s?.state)}`);
          await next();
          const pending = await server.broker.pendingTasks();
          seen.push(`inner:after:${(await backend.getState(ctx.signature.uuid))?.state}:${pending.length}`);
        },
      ],
    });
    await server.send(signature('t'));
    expect(seen).toEqual(['outer:before', 'inner:before:undefined', 'inner:after:PENDING:1', 'outer:after']);
  });

  it('can add headers that travel with the task', async () => {
    const { server } = make({
      publish: [
        async (ctx, next) => {
          ctx.headers.tenant = 'acme';
          await next();
        },
      ],
    });
    await server.send(signature('t', [], { headers: { kept: 1 } }));
    const [published] = await server.broker.pendingTasks();
    expect(published?.headers).toEqual({ kept: 1, tenant: 'acme' });
  });

  it('drops a task when it does not call next: nothing stored, nothing published', async () => {
    const { server, backend } = make({ publish: [async () => {}] });
    const sig = signature('t');
    await server.send(sig);
    expect(await server.broker.pendingTasks()).toEqual([]);
    expect(await backend.getState(sig.uuid)).toBeUndefined();
  });

  it('refuses a task by throwing: the caller gets the error, nothing is stored or published', async () => {
    const { server, backend } = make({
      publish: [
        async (ctx, next) => {
          if (ctx.signature.name === 'forbidden') throw new Error('not allowed here');
          await next();
        },
      ],
    });
    const sig = signature('forbidden');
    expect(String(await rejection(server.send(sig)))).toMatch(/not allowed here/);
    expect(await server.broker.pendingTasks()).toEqual([]);
    expect(await backend.getState(sig.uuid)).toBeUndefined();
  });

  it('in a bulk send, next() resolves after the one bulk publish; a refusal publishes nothing', async () => {
    const publishedAtNext: number[] = [];
    const { server } = make({
      publish: [
        async (ctx, next) => {
          if (ctx.signature.name === 'refused') throw new Error('refused one');
          await next();
          publishedAtNext.push((await server.broker.pendingTasks()).length);
        },
      ],
    });
    await server.sendMany([signature('a'), signature('b'), signature('c')]);
    expect(publishedAtNext).toEqual([3, 3, 3]);
    expect(String(await rejection(server.sendMany([signature('d'), signature('refused')])))).toMatch(
      /refused one/,
    );
    expect(await server.broker.pendingTasks()).toHaveLength(3);
  });

  it('refuses to send a group one of whose members it dropped', async () => {
    const { server } = make({
      publish: [
        async (ctx, next) => {
          if (ctx.signature.name !== 'dropped') await next();
        },
      ],
    });
    const err = await rejection(server.sendGroup(group(signature('a'), signature('dropped'))));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/dropped 1 of the 2 members.*nothing was sent/);
    expect(await server.broker.pendingTasks()).toEqual([]);
  });

  it('tells fresh sends, schedules, callbacks and retries apart', async () => {
    const origins: string[] = [];
    const { server } = make({
      publish: [
        async (ctx, next) => {
          origins.push(`${ctx.signature.name}:${ctx.origin satisfies PublishOrigin}`);
          await next();
        },
      ],
    });
    let flaky = 0;
    const done: string[] = [];
    server.register(
      defineTask('flaky', () => {
        if (++flaky === 1) throw new RetryLater(1);
        return 1;
      }),
      defineTask('callback', () => {
        done.push('callback');
      }),
      defineTask('tick', () => {
        done.push('tick');
      }),
    );
    await server.worker({ handleSignals: false }).start();
    await server.send(signature('flaky', [], { onSuccess: [signature('callback')] }));
    await until(() => done.includes('callback'));
    const schedule = server.schedule('@every 50ms', 'ticking', signature('tick'));
    await until(() => done.includes('tick'));
    schedule.remove();
    expect(origins.slice(0, 4)).toEqual(['flaky:send', 'flaky:retry', 'callback:callback', 'tick:schedule']);
  });
});

describe('task middleware', () => {
  it('runs in registration order, outermost first, around the task; the outcome is read after next()', async () => {
    const seen: string[] = [];
    const outcomes: (RunOutcome | undefined)[] = [];
    const { server } = make({
      task: [
        async (_ctx, next) => {
          seen.push('outer:before');
          await next();
          seen.push('outer:after');
        },
        async (ctx, next) => {
          seen.push(`inner:before:${ctx.attempt}:${ctx.task.name}`);
          await next();
          outcomes.push(ctx.outcome);
          seen.push('inner:after');
        },
      ],
    });
    const add = defineTask('add', (a: number, b: number) => {
      seen.push('run');
      return a + b;
    });
    server.register(add);
    await server.worker({ handleSignals: false }).start();
    expect(await (await server.send(add.signature(1, 2))).get({ timeoutMs: 5000 })).toBe(3);
    expect(seen).toEqual(['outer:before', 'inner:before:1:add', 'run', 'inner:after', 'outer:after']);
    expect(outcomes).toEqual([{ status: 'succeeded', value: 3, results: [{ type: 'int64', value: 3 }] }]);
  });

  it('reads a header a publish middleware set (propagation)', async () => {
    const received: unknown[] = [];
    const { server } = make({
      publish: [
        async (ctx, next) => {
          ctx.headers['x-request-id'] ??= 'req-42';
          await next();
        },
      ],
      task: [
        async (ctx, next) => {
          received.push(ctx.headers['x-request-id']);
          await next();
        },
      ],
    });
    const t = defineTask('t', () => 1);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    await (await server.send(t.signature())).get({ timeoutMs: 5000 });
    expect(received).toEqual(['req-42']);
  });

  it('skips the task when it does not call next: the task ends as FAILURE saying so', async () => {
    let runs = 0;
    const { server } = make({ task: [async () => {}] });
    const t = defineTask('t', () => ++runs);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const state = await (await server.send(t.signature())).wait({ timeoutMs: 5000 });
    expect(runs).toBe(0);
    expect(state.state).toBe(TaskStatus.FAILURE);
    expect(state.error).toMatch(/was skipped: a worker middleware returned without calling next\(\)/);
  });

  it('ends a task as FAILURE with fail(reason): no retry, its onError callbacks run', async () => {
    let runs = 0;
    const errors: unknown[][] = [];
    const { server } = make({
      task: [
        async (ctx, next) => {
          if (ctx.signature.name === 'revoked') return ctx.fail('revoked by an operator');
          await next();
        },
      ],
    });
    server.register(
      defineTask('revoked', () => ++runs),
      defineTask('report', (...args: unknown[]) => {
        errors.push(args);
      }),
    );
    await server.worker({ handleSignals: false }).start();
    const sig = signature('revoked', [], { retryCount: 3, onError: [signature('report')] });
    const state = await (await server.send(sig)).wait({ timeoutMs: 5000 });
    expect(state).toMatchObject({ state: TaskStatus.FAILURE, error: 'revoked by an operator' });
    await until(() => errors.length === 1);
    expect(runs).toBe(0);
    expect(errors).toEqual([['revoked by an operator']]);
  });

  it('fail(error) ends the task with that error as its outcome and stores its message', async () => {
    class Quarantined extends Error {}
    const seen: unknown[] = [];
    const { server } = make({
      task: [
        async (ctx, next) => {
          await next();
          if (ctx.outcome?.status === 'failed') seen.push(ctx.outcome.error);
        },
        async (ctx, next) => {
          ctx.fail(new Quarantined('tenant quarantined'));
          await next();
        },
      ],
    });
    let runs = 0;
    const t = defineTask('quarantined', () => ++runs);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const state = await (await server.send(t.signature())).wait({ timeoutMs: 5000 });
    expect(state).toMatchObject({ state: TaskStatus.FAILURE, error: 'tenant quarantined' });
    expect(runs).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Quarantined);
  });

  it('a revoked task reaches the middleware as a failure that isTaskRevoked recognises', async () => {
    const outcomes: RunOutcome[] = [];
    const server = new Server({
      broker: new MemoryBroker(),
      backend: new MemoryBackend(),
      control: new MemoryControlPlane(),
      logger: silentLogger,
      middleware: {
        task: [
          async (ctx, next) => {
            await next();
            if (ctx.outcome) outcomes.push(ctx.outcome);
          },
        ],
      },
    });
    servers.push(server);
    let runs = 0;
    const t = defineTask('revocable', () => ++runs);
    server.register(t);
    const sig = t.signature();
    await server.revoke(sig.uuid, { reason: 'operator said so' });
    await server.worker({ handleSignals: false }).start();
    const state = await (await server.send(sig)).wait({ timeoutMs: 5000 });
    expect(state.state).toBe(TaskStatus.FAILURE);
    expect(state.error).toBe(`Task "revocable" (${sig.uuid}) was revoked: operator said so`);
    expect(runs).toBe(0);
    const [outcome] = outcomes;
    expect(outcome?.status).toBe('failed');
    const error = outcome?.status === 'failed' ? outcome.error : undefined;
    expect(isTaskRevoked(error)).toBe(true);
    expect(isMachineryError(error, 'ERR_TASK_ABORTED')).toBe(true);
    expect(isTaskRevoked(new Error('was revoked'))).toBe(false);
  });

  it('fail() while the task runs aborts it', async () => {
    let reason: unknown;
    const { server } = make({
      task: [
        async (ctx, next) => {
          const running = next();
          ctx.fail('took too long for the middleware');
          await running;
        },
      ],
    });
    const t = defineTask('waits', function () {
      return new Promise((_, reject) => {
        this.signal.addEventListener('abort', () => {
          reason = this.signal.reason;
          reject(this.signal.reason);
        });
      });
    });
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const state = await (await server.send(t.signature())).wait({ timeoutMs: 5000 });
    expect(state).toMatchObject({ state: TaskStatus.FAILURE, error: 'took too long for the middleware' });
    expect(isMachineryError(reason, 'ERR_TASK_ABORTED')).toBe(true);
  });

  it('hands a delivery back with a delay: nothing is stored, it comes again', async () => {
    let runs = 0;
    const { server, backend } = make({
      task: [
        async (ctx, next) => {
          if (ctx.attempt === 1) return ctx.handBack(20);
          await next();
        },
      ],
    });
    const t = defineTask('paused', () => ++runs);
    server.register(t);
    const worker = server.worker({ handleSignals: false });
    const handedBack: number[] = [];
    const statesAtHandBack: unknown[] = [];
    worker.on('handedBack', (e) => {
      handedBack.push(e.delayMs);
      void backend.getState(e.signature.uuid).then((s) => statesAtHandBack.push(s?.state));
    });
    await worker.start();
    const r = await server.send(t.signature());
    expect(await r.get({ timeoutMs: 5000 })).toBe(1);
    expect(runs).toBe(1);
    expect(handedBack).toEqual([20]);
    expect(statesAtHandBack).toEqual([TaskStatus.PENDING]);
  });

  it('ends a task with succeed(value) without running it', async () => {
    let runs = 0;
    const { server } = make({
      task: [
        async (ctx) => {
          ctx.succeed('from cache');
        },
      ],
    });
    const t = defineTask('cached', () => {
      runs++;
      return 'computed';
    });
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    expect(await (await server.send(t.signature())).get({ timeoutMs: 5000 })).toBe('from cache');
    expect(runs).toBe(0);
  });

  it('a throwing middleware fails the attempt with its error, and retry rules apply', async () => {
    let throws = 0;
    const { server } = make({
      task: [
        async (_ctx, next) => {
          if (++throws === 1) throw new RetryLater(5, 'come back soon');
          await next();
        },
      ],
    });
    const t = defineTask('t', () => 'ok');
    server.register(t);
    const worker = server.worker({ handleSignals: false });
    const retried: string[] = [];
    worker.on('retried', (e) => retried.push(e.error));
    await worker.start();
    expect(await (await server.send(t.signature())).get({ timeoutMs: 5000 })).toBe('ok');
    expect(retried).toEqual(['come back soon']);
  });

  it('never runs a task twice when a middleware calls next() twice', async () => {
    let runs = 0;
    const { server } = make({
      task: [
        async (_ctx, next) => {
          await next();
          await next();
        },
      ],
    });
    const t = defineTask('once', () => ++runs);
    server.register(t);
    await server.worker({ handleSignals: false }).start();
    const state = await (await server.send(t.signature())).wait({ timeoutMs: 5000 });
    expect(runs).toBe(1);
    expect(state).toMatchObject({ state: TaskStatus.FAILURE });
    expect(state.error).toMatch(/called next\(\) twice/);
  });

  it('wraps chord members and the chord callback like any task', async () => {
    const names: string[] = [];
    const { server } = make({
      task: [
        async (ctx, next) => {
          names.push(ctx.signature.name);
          await next();
        },
      ],
    });
    const member = defineTask('member', (n: number) => n);
    const sum = defineTask('sum', (...n: number[]) => n.reduce((a, b) => a + b, 0));
    server.register(member, sum);
    await server.worker({ handleSignals: false }).start();
    const result = await server.sendChord(
      chord(group(member.signature(1), member.signature(2)), sum.signature()),
    );
    expect(await result.get({ timeoutMs: 5000 })).toBe(3);
    expect(names.sort()).toEqual(['member', 'member', 'sum']);
  });
});
