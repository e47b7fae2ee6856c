import { randomUUID } from 'node:crypto';
import {
  type Backend,
  type Broker,
  type ControlPlane,
  type Lock,
  type Logger,
  MachineryError,
  redactUrl,
  resolveLogger,
} from '@machinery/core';
import {
  type AdapterContext,
  createBackend,
  createBroker,
  createControlPlane,
  createLock,
} from './adapters.js';
import { type ResolvedUrls, resolveUrls } from './default-urls.js';
import { type Labels, named, OPTION_LABELS, schemeOf } from './labels.js';
import type { ConnectOptions } from './options.js';
import { probe } from './probe.js';
import { ProbeLogger } from './probe-logger.js';

/**
 * A broker, a result backend, a lock and a control plane built from URLs. Pass it to
 * `new Server(connection)`, which then owns (and closes) the adapters; call {@link Connection.close}
 * only when no Server does.
 */
export interface Connection {
  readonly broker: Broker;
  readonly backend: Backend;
  readonly lock: Lock;
  /**
   * Revocations, paused queues, live workers, task events and stored progress; absent with
   * `control: false`. A Server built from this connection uses it: its workers register and heartbeat,
   * and `server.revoke()`, `pause()` and `resume()` work.
   */
  readonly control?: ControlPlane;
  /**
   * The URLs in use after defaults, credentials masked: safe to print. `control` is absent when there
   * is no control plane.
   */
  readonly urls: {
    readonly broker: string;
    readonly backend: string;
    readonly lock: string;
    readonly control?: string;
  };
  /** Closes the adapters and the control plane. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
// close() of a client that never connected can wait on its reconnect loop; a failed connect() must
// still return promptly so the caller can report and exit.
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Builds the adapters that URLs name, importing only the adapter packages those URLs need, and
 * (unless `probe: false`) checks that each service answers.
 *
 * @example
 * ```ts
 * const server = new Server(await connect({ broker: 'redis://127.0.0.1:6379' }));
 * ```
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an unsupported URL, a missing result backend
 * (SQS broker) or an adapter package that is not installed (the message names the package);
 * `ERR_CONNECTION` when a service is down, refuses the credentials or does not answer in time.
 */
export function connect(options: ConnectOptions): Promise<Connection> {
  return connectLabelled(options, OPTION_LABELS);
}

/** {@link connect}, with errors naming the URLs by `labels` (environment variable names, say). */
export async function connectLabelled(options: ConnectOptions, labels: Labels): Promise<Connection> {
  const urls = resolveUrls(options, labels);
  const logger = resolveLogger(options.logger);
  const probing = options.probe !== false;
  const timeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (!(timeoutMs > 0)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `probeTimeoutMs must be a positive number of ms, not ${timeoutMs}.`,
    );
  }
  // One per adapter, so that a failed check reports what its own adapter last logged.
  const probeLoggers = {
    broker: new ProbeLogger(logger),
    backend: new ProbeLogger(logger),
    lock: new ProbeLogger(logger),
    control: new ProbeLogger(logger),
  };
  const ctx = (role: keyof Labels): AdapterContext => ({
    label: labels[role],
    logger: probing ? probeLoggers[role] : logger,
    defaultQueue: options.defaultQueue,
    amqp: schemeOf(urls.broker).startsWith('amqp') ? options.amqp : undefined,
  });

  const opened: { close(): Promise<void> }[] = [];
  try {
    const broker = await createBroker(urls.broker, ctx('broker'));
    opened.push(broker);
    const backend = await createBackend(urls.backend, ctx('backend'));
    opened.push(backend);
    const lock = await createLock(urls.lock, ctx('lock'));
    opened.push(lock);
    const control = await buildControlPlane(urls, ctx('control'), logger);
    if (control !== undefined) opened.push(control);

    if (probing) {
      const checks = [
        brokerCheck(urls.broker, broker, labels, timeoutMs, () => probeLoggers.broker.lastProblem),
        backendCheck(urls.backend, backend, labels, timeoutMs, () => probeLoggers.backend.lastProblem),
        lockCheck(urls.lock, lock, labels, timeoutMs, () => probeLoggers.lock.lastProblem),
      ];
      if (control !== undefined && urls.control !== undefined) {
        checks.push(
          controlCheck(urls.control, control, labels, timeoutMs, () => probeLoggers.control.lastProblem),
        );
      }
      const settled = await Promise.allSettled(checks);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      for (const l of Object.values(probeLoggers)) l.settle();
    }
    explainDefaults(urls, labels, logger);

    let closing: Promise<void> | undefined;
    const masked = {
      broker: redactUrl(urls.broker),
      backend: redactUrl(urls.backend),
      lock: redactUrl(urls.lock),
    };
    const close = () => {
      closing ??= Promise.all([broker.close(), backend.close(), lock.close(), control?.close()]).then(
        () => undefined,
      );
      return closing;
    };
    // Without a control plane the key is left out rather than set to undefined, so that
    // `new Server(connection)` and `{ ...connection }` see no `control` at all.
    return control === undefined || urls.control === undefined
      ? { broker, backend, lock, urls: masked, close }
      : { broker, backend, lock, control, urls: { ...masked, control: redactUrl(urls.control) }, close };
  } catch (err) {
    await Promise.all(opened.map((a) => closeWithin(a, CLOSE_TIMEOUT_MS)));
    throw err;
  }
}

function brokerCheck(
  url: string,
  broker: Broker,
  labels: Labels,
  timeoutMs: number,
  last: () => string | undefined,
): Promise<void> {
  // Each check reads nothing it changes: one delayed entry (Redis), a queue's ready count without
  // taking a message (AMQP), the URL of a dead-letter queue without receiving from it (SQS), no row
  // of the task table (PostgreSQL: creating the table when it is missing, as its first use would).
  const check: Record<string, () => Promise<unknown>> = {
    redis: () => broker.delayedTasks(1),
    rediss: () => broker.delayedTasks(1),
    amqp: () => broker.pendingTasks(broker.defaultQueue, 0),
    amqps: () => broker.pendingTasks(broker.defaultQueue, 0),
    sqs: () => broker.deadLetters(0),
    https: () => broker.deadLetters(0),
    postgres: () => broker.delayedTasks(0),
    postgresql: () => broker.delayedTasks(0),
  };
  const fn = check[schemeOf(url)];
  return fn ? probe(named(labels.broker, url), fn, timeoutMs, last) : Promise.resolve();
}

function backendCheck(
  url: string,
  backend: Backend,
  labels: Labels,
  timeoutMs: number,
  last: () => string | undefined,
): Promise<void> {
  if (schemeOf(url) === 'memory') return Promise.resolve();
  // A state that does not exist: the read crosses the wire and finds nothing.
  const uuid = `machinery_connect_probe_${randomUUID()}`;
  return probe(named(labels.backend, url), () => backend.getState(uuid), timeoutMs, last);
}

function lockCheck(
  url: string,
  lock: Lock,
  labels: Labels,
  timeoutMs: number,
  last: () => string | undefined,
): Promise<void> {
  if (schemeOf(url) === 'memory') return Promise.resolve();
  const key = `machinery_connect_probe_${randomUUID()}`;
  const check = async () => {
    if (await lock.acquire(key, 1_000)) await lock.release(key);
  };
  return probe(named(labels.lock, url), check, timeoutMs, last);
}

/**
 * The control plane, if any. One that was only defaulted (not asked for) and whose backend package is
 * too old to have one is left out with a warning: the broker and backend still work, and nothing
 * the user configured is ignored.
 */
async function buildControlPlane(
  urls: ResolvedUrls,
  ctx: AdapterContext,
  logger: Logger,
): Promise<ControlPlane | undefined> {
  if (urls.control === undefined) return undefined;
  const outcome = await createControlPlane(urls.control, ctx);
  if ('control' in outcome) return outcome.control;
  if (!urls.controlDefaulted) throw outcome.missing;
  logger.warn(
    {},
    `no control plane (revocations, pauses, workers, events): ${outcome.missing.message} (or set ${ctx.label} to another URL, or to none)`,
  );
  return undefined;
}

function controlCheck(
  url: string,
  control: ControlPlane,
  labels: Labels,
  timeoutMs: number,
  last: () => string | undefined,
): Promise<void> {
  if (schemeOf(url) === 'memory') return Promise.resolve();
  // Reads the paused queues: one small read, and every control plane keeps them.
  return probe(named(labels.control, url), () => control.pauses.paused(), timeoutMs, last);
}

function explainDefaults(urls: ResolvedUrls, labels: Labels, logger: Logger): void {
  const broker = schemeOf(urls.broker);
  if (urls.backendDefaulted && broker !== 'memory') {
    logger.info(
      { backend: redactUrl(urls.backend) },
      `${labels.backend} is not set: results are stored on the broker's server (set ${labels.backend} to choose another backend)`,
    );
  }
  if (broker !== 'memory' && schemeOf(urls.backend) === 'memory') {
    logger.warn(
      {},
      `results are kept in this process (memory://) while tasks go over the network: a worker in another process cannot store results here; set ${labels.backend}`,
    );
  }
  if (
    broker !== 'memory' &&
    urls.control !== undefined &&
    schemeOf(urls.control) === 'memory' &&
    !(urls.controlDefaulted && schemeOf(urls.backend) === 'memory')
  ) {
    logger.warn(
      {},
      `the control plane is in this process (memory://) while tasks go over the network: revocations, pauses, workers and events of other processes are not seen here; set ${labels.control}`,
    );
  }
  if (urls.lockDefaulted && broker !== 'memory' && schemeOf(urls.lock) === 'memory') {
    logger.info(
      {},
      `${labels.lock} is not set: schedules use an in-process lock, so every process fires them (set ${labels.lock}=redis://… for a fleet)`,
    );
  }
}

async function closeWithin(adapter: { close(): Promise<void> }, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    adapter.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
