import { randomBytes } from 'node:crypto';
import { RedisBackend, RedisControlPlane, RedisFlowControl } from '@machinery/backend-redis';
import { AmqpBroker } from '@machinery/broker-amqp';
import { RedisBroker } from '@machinery/broker-redis';
import { SqsBroker } from '@machinery/broker-sqs';
import type { Broker, Logger } from '@machinery/core';

/** The brokers the soak runs against, in the order it runs them. */
export const BROKERS = ['redis', 'amqp', 'sqs'] as const;
export type BrokerKind = (typeof BROKERS)[number];

/** Task names (one registry shared by the runner and the worker processes). */
export const TASK = 'soak_task';
export const CHAIN_LINK = 'soak_chain';
export const CHORD_CALLBACK = 'soak_chord_cb';
export const LIMITED = 'soak_limited';

/** Upstream services (loopback only); the environment variables match the test suites'. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const SQS_ENDPOINT = process.env.SQS_ENDPOINT ?? 'http://127.0.0.1:4566';

/** Host and port of a `redis://`, `amqp://` or `http://` URL (defaults by scheme). */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const defaults: Record<string, number> = { 'redis:': 6379, 'amqp:': 5672, 'http:': 80 };
  return { host: u.hostname, port: u.port === '' ? (defaults[u.protocol] ?? 0) : Number(u.port) };
}

/** The same URL pointed at `127.0.0.1:<port>` (credentials and path kept): the proxy's address. */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}

/** Everything a worker process (and the runner's producer) needs to build its broker and backend. */
export interface RunConfig {
  kind: BrokerKind;
  /** Unique per broker run: every key, queue and exchange the run creates carries it. */
  runId: string;
  /** Redis key prefix of the broker (Redis runs), the backend and the soak's own counters. */
  prefix: string;
  /** Queue the workers consume (Redis list / AMQP queue / SQS queue name). */
  queue: string;
  /** AMQP exchange and dead-letter queue of the run. */
  exchange: string;
  deadLetterQueue: string;
  /** AMQP delay levels declared (2^levels − 1 ms per pass; retries here wait a few seconds). */
  delayLevels: number;
  /** Broker URL through the run's TCP proxy (workers) — `redis://`, `amqp://` or the SQS endpoint. */
  proxiedUrl: string;
  /** Broker URL without the proxy (the producer, inspection and cleanup). */
  directUrl: string;
  /** Redis for the backend and the counters: never proxied, so cuts only hit worker↔broker links. */
  redisUrl: string;
  /** Redis broker lease. */
  leaseMs: number;
  /** SQS visibility timeout. */
  visibilityTimeoutMs: number;
  /** Worker concurrency. */
  concurrency: number;
  /** `skipCompletedRedeliveries` of every worker. */
  suppression: boolean;
  /** Threads of this worker's thread pool; absent: tasks run in the worker's own thread. */
  threads?: number;
}

/** Keys of the soak's own bookkeeping (hashes under the run's prefix). */
export function soakKeys(prefix: string) {
  return {
    /** uuid → successful executions of the task body. */
    exec: `${prefix}soak:exec`,
    /** uuid → attempts of a task planned to fail once. */
    attempts: `${prefix}soak:attempts`,
    /** chord callback uuid → executions of the callback body. */
    chord: `${prefix}soak:chord`,
    /** chord callback uuid → times a worker published the callback (trigger and recovery re-sends). */
    chordSent: `${prefix}soak:chordsent`,
    /** `<groupUUID> <member uuid>` → times `triggerChord` answered that member `true` (the winner). */
    chordWins: `${prefix}soak:chordwins`,
    /** counters: suppressed, retried, failed, revoked, errors. */
    stats: `${prefix}soak:stats`,
    /** list of `<uuid> <pid> <attempt> <ms>`, one per execution (diagnostics of duplicates). */
    execLog: `${prefix}soak:execlog`,
    /** list of `<uuid> <pid> - <ms>`, one per chord callback publication. */
    sentLog: `${prefix}soak:sentlog`,
    /** list of `<uuid> <pid> <state> <ms>`, one per suppressed redelivery. */
    dupLog: `${prefix}soak:duplog`,
    /**
     * list of `start <exec id> <uuid> <pid> <key> <ms>` and `end <exec id> <ms>`, one pair per execution
     * of a concurrency-limited task (see `limited.ts`).
     */
    limitLog: `${prefix}soak:limitlog`,
  };
}

/** A fresh run configuration for `kind`. */
export function runConfig(
  kind: BrokerKind,
  proxyPort: number,
  options: { suppression: boolean; concurrency: number },
): RunConfig {
  const id = `soak_${kind}_${randomBytes(4).toString('hex')}`;
  const upstream = kind === 'redis' ? REDIS_URL : kind === 'amqp' ? AMQP_URL : SQS_ENDPOINT;
  return {
    kind,
    runId: id,
    prefix: `${id}:`,
    // SQS queue names allow [A-Za-z0-9_-]; the same name works for Redis and RabbitMQ.
    queue: `${id}_tasks`,
    exchange: `${id}_exchange`,
    deadLetterQueue: `${id}_dead`,
    delayLevels: 16,
    proxiedUrl: viaPort(upstream, proxyPort),
    directUrl: upstream,
    redisUrl: REDIS_URL,
    leaseMs: 3000,
    visibilityTimeoutMs: 5000,
    concurrency: options.concurrency,
    suppression: options.suppression,
  };
}

/** The run's broker, through the proxy (`proxied`) or straight to the service. */
export function makeBroker(config: RunConfig, proxied: boolean, logger: Logger): Broker {
  const url = proxied ? config.proxiedUrl : config.directUrl;
  switch (config.kind) {
    case 'redis':
      return new RedisBroker({
        url,
        prefix: config.prefix,
        defaultQueue: config.queue,
        leaseMs: config.leaseMs,
        logger,
      });
    case 'amqp':
      return new AmqpBroker({
        url,
        exchange: config.exchange,
        defaultQueue: config.queue,
        deadLetterQueue: config.deadLetterQueue,
        delayLevels: config.delayLevels,
        connectionName: `${config.runId}${proxied ? '' : '_producer'}`,
        logger,
      });
    case 'sqs':
      return new SqsBroker({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        defaultQueue: config.queue,
        visibilityTimeoutMs: config.visibilityTimeoutMs,
        logger,
      });
  }
}

/** The run's result backend: Redis, direct, under the run's prefix. */
export function makeBackend(config: RunConfig, logger: Logger): RedisBackend {
  return new RedisBackend({ url: config.redisUrl, prefix: config.prefix, logger });
}

/**
 * The run's control plane (revocations, pauses, workers, task events): Redis, direct like the backend,
 * under the run's prefix — so cuts only hit worker↔broker links and cleanup removes its keys too.
 */
export function makeControl(config: RunConfig, logger: Logger): RedisControlPlane {
  return new RedisControlPlane({ url: config.redisUrl, prefix: config.prefix, logger });
}

/**
 * The run's flow store (concurrency slots of the limited tasks): Redis, direct like the backend, under
 * the run's prefix. Not proxied on purpose: a holder whose renewals cannot reach the store loses its
 * slot after the lease while it still runs, which is the limit's documented edge (a lease), not what the
 * soak measures — it measures SIGKILLs and broker cuts against the limit.
 */
export function makeFlow(config: RunConfig): RedisFlowControl {
  return new RedisFlowControl({ url: config.redisUrl, prefix: config.prefix });
}

/** What a worker process writes to stdout, one JSON object per line. */
export type WorkerMessage =
  | { t: 'ready'; pid: number }
  | { t: 'rss'; rss: number; heap: number; active: number; errors: number };
