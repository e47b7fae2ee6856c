import type { Broker } from '@machinery/core';
import type { AdapterContext } from '../context.js';
import type { SuiteBaseOptions } from '../harness.js';

/** Options for `brokerSuite` and for each group of `brokerGroups`. */
export interface BrokerSuiteOptions extends SuiteBaseOptions<Broker> {
  /**
   * Puts `body` on `queue` as raw bytes, bypassing the codec — used by the bad-input tests. Without it
   * those tests are skipped with that reason.
   */
  injectRaw?: (ctx: AdapterContext, queue: string, body: string) => Promise<void>;
  /**
   * The queue on which the broker keeps FIFO message groups, for a broker whose `fifoGroups` holds on
   * some queues only (an SQS FIFO queue's name ends in `.fifo`). Default: the broker's default queue.
   */
  fifoQueue?: (ctx: AdapterContext) => string;
}
