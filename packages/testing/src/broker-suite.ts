import { badInput } from './broker/bad-input.js';
import { consuming } from './broker/consuming.js';
import { deadLetters } from './broker/dead-letters.js';
import { delays } from './broker/delays.js';
import { fifo } from './broker/fifo.js';
import type { BrokerGroup } from './broker/group.js';
import { inspection } from './broker/inspection.js';
import { leases } from './broker/leases.js';
import { lifecycle } from './broker/lifecycle.js';
import type { BrokerSuiteOptions } from './broker/options.js';
import { priorities } from './broker/priorities.js';
import { publishing } from './broker/publishing.js';
import { purge } from './broker/purge.js';
import { settlement } from './broker/settlement.js';

export type { BrokerGroup } from './broker/group.js';
export type { BrokerSuiteOptions } from './broker/options.js';

/**
 * The groups `brokerSuite` is made of, each a function of the same options that registers its own
 * `describe` block ("<name>: broker leases & redelivery"), so one group can also run alone — for
 * instance against a second deployment of the service. Within a group, a test the broker's
 * `capabilities` rule out is skipped with the reason shown; nothing else is ever skipped.
 */
export const brokerGroups = {
  /** Delivery unchanged, routing by routing key, bulk publish (all-or-none when declared), size limit. */
  publishing,
  /** Acknowledged tasks are gone, ≤ concurrency + prefetch unsettled, one consumer per message. */
  consuming,
  /** Nack requeues and counts attempts; a delivery settles once, even when calls race or it is stale. */
  settlement,
  /** Leases kept alive while held, redelivery after `close()`, stale deliveries fenced, `extendLease`. */
  leases,
  /** ETA never early, all due tasks moved at once, delayed requeue. */
  delays,
  /** Higher priority first. */
  priorities,
  /** FIFO message groups in order, one in flight per group. */
  fifo,
  /** Rejected tasks kept with their reason, and requeued on request. */
  deadLetters,
  /** Pending (waiting, not in flight) and delayed tasks. */
  inspection,
  /** Purge removes one queue's pending tasks, delayed tasks or dead letters, never a held task. */
  purge,
  /** Undecodable, oversized and hostile bodies dead-lettered while consuming goes on. */
  badInput,
  /** No delivery after `stop()` or `close()` resolved; the rest goes to other consumers. */
  lifecycle,
} as const satisfies Record<string, BrokerGroup>;

/** The name of one group of {@link brokerGroups}. */
export type BrokerGroupName = keyof typeof brokerGroups;

/**
 * The broker conformance suite: every group of {@link brokerGroups}. Every broker runs it against its
 * real server; it reads the broker's `capabilities` and skips, with the reason shown, only what the
 * broker declares it lacks.
 *
 * @example
 * ```ts
 * brokerSuite({ name: 'RedisBroker', create: ({ namespace }) => new RedisBroker({ prefix: namespace }) })
 * ```
 */
export function brokerSuite(options: BrokerSuiteOptions): void {
  for (const group of Object.values(brokerGroups)) group(options);
}
