import type { Signature } from '@machinery/core';
import type { StepCarrier } from './joint-script.js';

/**
 * Where a Redis broker offers to have its publications carried by a Redis backend on the same server,
 * in the script call that stores the tasks' `PENDING` states. A registered symbol, so two copies of
 * this package still agree.
 */
export const PUBLICATION_CARRIER: unique symbol = Symbol.for(
  '@machinery/redis-connection.publicationCarrier',
) as never;

/**
 * What a broker offers under {@link PUBLICATION_CARRIER}. `prepare` encodes one task for publication
 * at once (throwing what `publish` would throw for it, before anything is stored); `carry` turns the
 * prepared tasks of one call into the step that publishes them.
 */
export interface PublicationCarrier extends StepCarrier<unknown> {
  prepare(signature: Signature): unknown;
}

/** The publication carrier `broker` offers, or `undefined` for any other broker. */
export function publicationCarrier(broker: object): PublicationCarrier | undefined {
  const offer = (broker as { [PUBLICATION_CARRIER]?: PublicationCarrier })[PUBLICATION_CARRIER];
  return offer !== undefined && typeof offer.carry === 'function' && typeof offer.prepare === 'function'
    ? offer
    : undefined;
}
