import { MachineryError } from './errors.js';

/**
 * What {@link Broker.purge} removes from one queue. At least one part must be `true`; a part left
 * out is kept.
 */
export interface PurgeOptions {
  /** Tasks waiting in the queue. Tasks a worker holds (delivered, unsettled) are never removed. */
  readonly pending?: boolean;
  /** Tasks of the queue waiting for their ETA, delayed retries and delayed requeues included. */
  readonly delayed?: boolean;
  /** Dead letters that came from the queue. */
  readonly deadLetters?: boolean;
}

/** How many messages {@link Broker.purge} removed, per part; `0` for a part not asked for. */
export interface PurgeCounts {
  readonly pending: number;
  readonly delayed: number;
  readonly deadLetters: number;
}

/**
 * Which parts of a queue a broker's {@link Broker.purge} can remove, declared as
 * `capabilities.purge`. Asking for a part declared `false` rejects with `ERR_INVALID_ARGUMENT`.
 */
export interface PurgeSupport {
  readonly pending: boolean;
  readonly delayed: boolean;
  readonly deadLetters: boolean;
}

/** A purge request after {@link checkPurge}: every part decided. */
export interface PurgeRequest {
  readonly queue: string;
  readonly pending: boolean;
  readonly delayed: boolean;
  readonly deadLetters: boolean;
}

/** The parts of {@link PurgeCounts}, in the order they are shown. */
export const PURGE_PARTS = ['pending', 'delayed', 'deadLetters'] as const;

const PART_WORDS: Record<(typeof PURGE_PARTS)[number], string> = {
  pending: 'pending tasks',
  delayed: 'delayed tasks',
  deadLetters: 'dead letters',
};

/**
 * Checks a purge request before anything is removed — a queue name, at least one part, only parts
 * the broker supports — so that a bad request removes nothing. For broker authors: call it first
 * in `purge()`, with `reasons` saying why an unsupported part cannot be purged.
 *
 * @param broker - the broker's name for messages (`'SqsBroker'`).
 * @param reasons - why a part is unsupported, by part; shown in the error.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an empty queue, no part, or an unsupported part.
 */
export function checkPurge(
  broker: string,
  queue: string,
  options: PurgeOptions | undefined,
  support: PurgeSupport,
  reasons: Partial<Record<(typeof PURGE_PARTS)[number], string>> = {},
): PurgeRequest {
  if (typeof queue !== 'string' || queue === '') {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${broker}.purge() needs a queue name (got ${JSON.stringify(queue)}); purge works on one queue at a time.`,
    );
  }
  const request: PurgeRequest = {
    queue,
    pending: options?.pending === true,
    delayed: options?.delayed === true,
    deadLetters: options?.deadLetters === true,
  };
  if (!PURGE_PARTS.some((p) => request[p])) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${broker}.purge("${queue}") was given nothing to remove: pass { pending: true }, { delayed: true } and/or { deadLetters: true }.`,
    );
  }
  for (const part of PURGE_PARTS) {
    if (request[part] && !support[part]) {
      const why = reasons[part] ? `: ${reasons[part]}` : '';
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `${broker} cannot purge ${PART_WORDS[part]}${why}. Nothing was removed; leave out ${part} (see capabilities.purge).`,
      );
    }
  }
  return request;
}
