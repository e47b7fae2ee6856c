import type { Signature } from '@machinery/core';
import type { StepCarrier } from './joint-script.js';

/**
 * Where a Redis broker offers its publication to be carried by a Redis backend on the same server, in
 * the script call that stores the task's `PENDING` state. A registered symbol, so two copies of this
 * package still agree.
 */
export const PUBLISH_CARRIER: unique symbol = Symbol.for(
  '@machinery/redis-connection.publishCarrier',
) as never;

/** One signature made ready to publish by a carried step. */
export interface PreparedPublication {
  /** The item to hand to {@link PublishOffer.carrier} with the write that carries it. */
  readonly item: unknown;
  /** Settles once the carried step ran (resolves) or did not (rejects with the reason). */
  readonly published: Promise<void>;
}

/** What a broker offers under {@link PUBLISH_CARRIER}. */
export interface PublishOffer {
  readonly carrier: StepCarrier<unknown>;
  /**
   * Encodes `signature` as the broker's `publish` would and returns it ready to be carried.
   * @throws what `publish` throws for a signature it refuses (closed broker, oversized message…).
   */
  prepare(signature: Signature): PreparedPublication;
}

/** The publication `broker` offers to carry, or `undefined` for any other broker. */
export function publishOffer(broker: object): PublishOffer | undefined {
  const offer = (broker as { [PUBLISH_CARRIER]?: PublishOffer })[PUBLISH_CARRIER];
  return offer !== undefined &&
    typeof offer.prepare === 'function' &&
    typeof offer.carrier?.carry === 'function'
    ? offer
    : undefined;
}
