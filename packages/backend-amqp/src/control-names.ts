import type { Options } from 'amqplib';

/** The two logs whose facts every process keeps a view of; also the routing keys of the control exchange. */
export type LogKind = 'state' | 'workers';

/** How far back a process reads the worker log: the longest heartbeat time-to-live accepted. */
export const WORKER_LOOKBACK_MS = 15 * 60_000;

/** The names of everything a control plane with `prefix` declares. */
export interface ControlNames {
  /** Direct exchange: routing key `state` or `workers`, to the log of that name and every live queue. */
  readonly exchange: string;
  /** The stream of a log. */
  log(kind: LogKind): string;
  /** The stream of task events. */
  readonly events: string;
  /** A process's exclusive live queue (announcements and its own sync marks). */
  live(instance: string): string;
  /** The last-value queue holding one task's progress. */
  progress(taskUUID: string): string;
}

/** Names under `<prefix>machinery_control`. */
export function controlNames(prefix: string): ControlNames {
  const base = `${prefix}machinery_control`;
  return {
    exchange: base,
    log: (kind) => `${base}.${kind}`,
    events: `${base}.events`,
    live: (instance) => `${base}.live.${instance}`,
    progress: (taskUUID) => `${base}.progress.${taskUUID}`,
  };
}

function streamOptions(maxAge: string, extra: Record<string, unknown> = {}): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      'x-max-age': maxAge,
      // Small segments, so retention (which drops whole segments) takes effect on a quiet stream too.
      'x-stream-max-segment-size-bytes': 4_000_000,
      ...extra,
    },
  };
}

/** The stream of a log: the state log kept `retentionMs`, the worker log an hour. */
export function logOptions(kind: LogKind, retentionMs: number): Options.AssertQueue {
  return streamOptions(kind === 'state' ? `${Math.ceil(retentionMs / 1000)}s` : '1h');
}

/** The event stream: an hour, at most 256 MB. */
export function eventsOptions(): Options.AssertQueue {
  return streamOptions('1h', { 'x-max-length-bytes': 256_000_000 });
}

/** A process's live queue: gone with its connection. */
export const LIVE_QUEUE_OPTIONS: Options.AssertQueue = { durable: false, exclusive: true, autoDelete: true };

/**
 * One task's progress: holds the last report only; deleted once unused for `ttlMs` (the message itself
 * carries the same expiration).
 */
export function progressOptions(ttlMs: number): Options.AssertQueue {
  return { durable: false, autoDelete: false, arguments: { 'x-max-length': 1, 'x-expires': ttlMs } };
}
