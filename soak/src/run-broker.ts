import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, Server } from '@machinery/core';
import { TcpProxy } from '@machinery/test-services/tcp-proxy';
import { Redis } from 'ioredis';
import { WorkerSlot } from './children.js';
import { cleanup, sqsCounts } from './cleanup.js';
import {
  AMQP_URL,
  type BrokerKind,
  hostPort,
  makeBackend,
  makeBroker,
  makeControl,
  REDIS_URL,
  runConfig,
  SQS_ENDPOINT,
  soakKeys,
} from './config.js';
import { lineLogger } from './log-lines.js';
import { pauseAtRandom } from './pauser.js';
import type { BrokerResult, RssFigures } from './report.js';
import { Revoker } from './revoker.js';
import { locate, locateInRedis, verdict, waitForSettled } from './verify.js';
import { Expected, produce } from './workload.js';

/** Options of one broker run. */
export interface SoakOptions {
  /** Task UUIDs to send. */
  tasks: number;
  /** Task UUIDs per second the producer aims at. */
  rate: number;
  /** `skipCompletedRedeliveries` of the workers. */
  suppression: boolean;
  /** Worker concurrency. */
  concurrency: number;
  /** Pause between two SIGKILLs, drawn uniformly from [min, max] ms. */
  killEveryMs: readonly [number, number];
  /** Pause between two connection cuts, drawn uniformly from [min, max] ms. */
  cutEveryMs: readonly [number, number];
  /** Pause between two rounds of revocations, drawn uniformly from [min, max] ms. */
  revokeEveryMs: readonly [number, number];
  /** Share of the task UUIDs sent that get revoked. */
  revokeShare: number;
  /** Time between two pauses of the queue, and the length of a pause, drawn from [min, max] ms. */
  pauseEveryMs: readonly [number, number];
  pauseForMs: readonly [number, number];
  /** Hard bound of the whole run (setup, producing, draining); stopping and cleanup come on top. */
  timeoutMs: number;
  /** Directory for this run's logs. */
  logRoot: string;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Aborted on SIGINT. */
  signal: AbortSignal;
}

/** Cleanups of runs in progress, for the runner's SIGINT and crash paths. */
const pendingCleanups = new Set<() => Promise<void>>();

/** Stops every run in progress and removes what it created (bounded to ~20 s). */
export async function emergencyCleanup(): Promise<void> {
  await Promise.race([Promise.allSettled([...pendingCleanups].map((c) => c())), sleep(20_000)]);
}

const between = ([min, max]: readonly [number, number]) => min + Math.random() * (max - min);

function fileLogger(path: string): Logger {
  const stream = WorkerSlot.logFile(path);
  return lineLogger((line) => stream.write(line));
}

function rssFigures(slot: WorkerSlot, warmFrom: number): RssFigures | undefined {
  const samples = slot.samples;
  const warm = samples.find((x) => x.at >= warmFrom) ?? samples[0];
  const end = samples.at(-1);
  if (!warm || !end) return undefined;
  const peak = Math.max(...samples.filter((x) => x.at >= warm.at).map((x) => x.rss));
  const growth = end.rss - warm.rss;
  return {
    warm: warm.rss,
    end: end.rss,
    peak,
    grew: growth > 20 * 2 ** 20 && end.rss > warm.rss * 1.3,
    extreme: growth > 200 * 2 ** 20 && end.rss > warm.rss * 3,
  };
}

/**
 * One soak run against one broker: a proxy, three worker processes (one never killed), the producer
 * in this process, chaos while producing, then drain, verdict, stop and cleanup — always in that
 * order, and cleanup whatever happened before it.
 */
export async function runBroker(kind: BrokerKind, o: SoakOptions): Promise<BrokerResult> {
  const started = Date.now();
  const upstreamUrl = kind === 'redis' ? REDIS_URL : kind === 'amqp' ? AMQP_URL : SQS_ENDPOINT;
  const upstream = hostPort(upstreamUrl);
  const proxy = new TcpProxy(upstream.host, upstream.port);
  await proxy.start(upstreamUrl);
  const config = runConfig(kind, proxy.port, { suppression: o.suppression, concurrency: o.concurrency });
  const logDir = join(o.logRoot, config.runId);
  mkdirSync(logDir, { recursive: true });
  const log = (line: string) => o.log(`${kind} ${((Date.now() - started) / 1000).toFixed(1)} s: ${line}`);
  const logger = fileLogger(join(logDir, 'producer.log'));
  const slotLog = WorkerSlot.logFile(join(logDir, 'workers.log'));
  // worker-2 runs its tasks in a thread pool of 2 threads: SIGKILLs and revocations hit it too.
  const slots = ['control', 'worker-1', 'worker-2'].map(
    (name) => new WorkerSlot(name, name === 'worker-2' ? { ...config, threads: 2 } : config, slotLog),
  );
  const [control] = slots as [WorkerSlot, ...WorkerSlot[]];
  const victims = slots.slice(1);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  const producer = new Server({
    broker: makeBroker(config, false, logger),
    backend: makeBackend(config, logger),
    control: makeControl(config, logger),
    logger,
  });
  const expected = new Expected();
  const result: BrokerResult = {
    kind,
    runId: config.runId,
    suppression: o.suppression,
    expected,
    verdict: undefined,
    error: undefined,
    units: 0,
    sendRetries: 0,
    backlogPauses: 0,
    rate: o.rate,
    kills: 0,
    restartFailures: 0,
    unexpectedExits: [],
    cuts: 0,
    connectionsCut: 0,
    revokeCalls: 0,
    failedRevokeCalls: 0,
    pauses: [],
    proxyConnections: 0,
    rss: undefined,
    produceMs: 0,
    drainMs: 0,
    totalMs: 0,
    whereLost: undefined,
    cleanup: 'not run',
    leftover: [],
    logDir,
  };

  let stopped: Promise<void> | undefined;
  const stopAll = () => {
    stopped ??= (async () => {
      await Promise.all(slots.map((s) => s.stop()));
      await producer.close().catch(() => {});
      await proxy.close();
    })();
    return stopped;
  };
  let cleaned: Promise<void> | undefined;
  const stopAndClean = () => {
    cleaned ??= (async () => {
      await stopAll();
      try {
        const c = await cleanup(config);
        result.cleanup = c.removed;
        result.leftover = c.leftover;
      } catch (err) {
        result.cleanup = `failed: ${(err as Error).message}`;
        result.leftover = [`everything under ${config.runId} (cleanup failed)`];
      }
    })();
    return cleaned;
  };
  pendingCleanups.add(stopAndClean);

  const chaos = new AbortController();
  const abortChaos = () => chaos.abort();
  o.signal.addEventListener('abort', abortChaos);
  let produceStart = Date.now();
  try {
    log(`starting 3 workers (${config.runId}, broker through proxy :${proxy.port})`);
    await Promise.all(slots.map((s) => s.start()));

    // Backlog for the producer's throttle: UUIDs sent minus UUIDs that have run.
    let executed = 0;
    const keys = soakKeys(config.prefix);
    const poll = setInterval(() => {
      redis.hlen(keys.exec).then(
        (x) => {
          executed = x;
        },
        () => {},
      );
    }, 250);
    const progress = setInterval(() => {
      const rss = control.samples.at(-1)?.rss ?? 0;
      log(
        `sent ${expected.uuids.length}, ran ${executed}, kills ${result.kills}, cuts ${result.cuts}, revoked ${expected.revoked.size}, pauses ${result.pauses.length}, control RSS ${(rss / 2 ** 20).toFixed(0)} MB`,
      );
    }, 5000);

    const killer = (async () => {
      while (!chaos.signal.aborted) {
        await sleep(between(o.killEveryMs), undefined, { signal: chaos.signal }).catch(() => {});
        if (chaos.signal.aborted) break;
        const victim = victims[Math.floor(Math.random() * victims.length)] as WorkerSlot;
        await victim.kill();
        result.kills++;
        try {
          await victim.start();
        } catch (err) {
          result.restartFailures++;
          log(`restart of ${victim.name} failed: ${(err as Error).message}`);
        }
      }
    })();
    const cutter = (async () => {
      while (!chaos.signal.aborted) {
        await sleep(between(o.cutEveryMs), undefined, { signal: chaos.signal }).catch(() => {});
        if (chaos.signal.aborted) break;
        result.cuts++;
        result.connectionsCut += proxy.reset();
      }
    })();
    const revoker = new Revoker({
      server: producer,
      redis,
      prefix: config.prefix,
      expected,
      everyMs: o.revokeEveryMs,
      share: o.revokeShare,
      log,
    });
    const revoking = revoker.run(chaos.signal).catch((err: unknown) => {
      result.error ??= `revoker: ${(err as Error).message}`;
    });
    const pausing = pauseAtRandom(
      {
        server: producer,
        queue: config.queue,
        everyMs: o.pauseEveryMs,
        forMs: o.pauseForMs,
        windows: result.pauses,
        log,
      },
      chaos.signal,
    ).catch((err: unknown) => {
      // Resuming failed 20 times: the drain will show what stayed queued.
      result.error ??= `pauser: ${(err as Error).message}`;
    });

    // Producing gets 70 % of the time budget; draining what was sent needs the rest.
    const produceAbort = AbortSignal.any([
      o.signal,
      AbortSignal.timeout(Math.floor(Math.max(10_000, o.timeoutMs * 0.7 - (Date.now() - started)))),
    ]);
    produceStart = Date.now();
    log(`producing ${o.tasks} task UUIDs at ≤ ${o.rate}/s with SIGKILLs and cuts`);
    try {
      const stats = await produce(producer, expected, {
        tasks: o.tasks,
        rate: o.rate,
        maxBacklog: Math.max(500, o.rate * 3),
        // Revoked tasks and those they stop (at most two later chain links) may never run: not backlog.
        backlog: (sent) => sent - executed - 2 * expected.revoked.size,
        signal: produceAbort,
      });
      result.units = stats.units;
      result.sendRetries = stats.sendRetries;
      result.backlogPauses = stats.backlogPauses;
      if (produceAbort.aborted)
        result.error = `producing stopped early (${o.signal.aborted ? 'interrupted' : 'time budget spent'}) after ${stats.sent} UUIDs`;
    } finally {
      result.produceMs = Date.now() - produceStart;
      chaos.abort();
      await Promise.all([killer, cutter, revoking, pausing]);
      result.revokeCalls = revoker.calls;
      result.failedRevokeCalls = revoker.failedCalls;
      clearInterval(poll);
    }
    log(
      `produced ${expected.uuids.length} UUIDs, revoked ${expected.revoked.size}, paused ${result.pauses.length}×; chaos stopped; waiting for every task to settle`,
    );

    // Killed workers' tasks come back after a lease / visibility timeout; allow that plus a minute,
    // within the run's budget — but never less than the redelivery time plus half a minute, however
    // much of the budget producing took on a loaded machine.
    const drainStart = Date.now();
    const redeliveryMs = Math.max(config.leaseMs, config.visibilityTimeoutMs);
    const drainDeadline =
      drainStart +
      Math.max(redeliveryMs + 30_000, Math.min(started + o.timeoutMs - drainStart, redeliveryMs + 60_000));
    let lastLog = Date.now();
    const missing = await waitForSettled(redis, config.prefix, expected, drainDeadline, (left) => {
      if (left > 0 && Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        log(`${left} UUIDs not settled yet`);
      }
    });
    result.drainMs = Date.now() - drainStart;
    clearInterval(progress);
    if (missing.length === 0) {
      // Late redeliveries (leases and visibility timeouts of killed workers running out) still
      // arrive after the last SUCCESS: wait for them so duplicates and suppressions are all counted.
      const settle =
        kind === 'redis' ? config.leaseMs + 2000 : kind === 'sqs' ? config.visibilityTimeoutMs + 2000 : 3000;
      log(`all settled after ${(result.drainMs / 1000).toFixed(1)} s of draining; waiting ${settle} ms more`);
      await sleep(settle);
    } else {
      result.whereLost = await locate(producer.broker, config.queue, missing);
      if (kind === 'sqs') result.whereLost += `; ${await sqsCounts(config)}`;
      if (kind === 'redis')
        result.whereLost += `; keys: ${await locateInRedis(redis, config.prefix, config.queue, missing)}`;
      log(
        `${missing.length} UUIDs still not settled at the drain deadline; broker holds: ${result.whereLost}`,
      );
    }
    result.rss = rssFigures(control, produceStart + result.produceMs * 0.25);
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
    log(`error: ${(err as Error).message}`);
  } finally {
    o.signal.removeEventListener('abort', abortChaos);
    chaos.abort();
    result.unexpectedExits = slots.flatMap((s) => s.unexpectedExits);
    await stopAll();
    result.proxyConnections = proxy.accepted;
    if (expected.uuids.length > 0) {
      try {
        result.verdict = await verdict(redis, config.prefix, expected, {
          t0: started,
          processes: slots.flatMap((s) => s.history),
          pauses: result.pauses,
        });
      } catch (err) {
        result.error ??= `verdict failed: ${(err as Error).message}`;
      }
    }
    await stopAndClean();
    pendingCleanups.delete(stopAndClean);
    redis.disconnect();
    await new Promise<void>((resolve) => slotLog.end(() => resolve()));
    result.totalMs = Date.now() - started;
  }
  return result;
}
