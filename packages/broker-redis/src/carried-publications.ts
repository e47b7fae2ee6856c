import type { Signature } from '@machinery/core';
import type { CarriedStep, PublicationCarrier } from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { PublicationBatch } from './publication-batch.js';
import { PUBLISH_MANY } from './scripts.js';

/** A task encoded for publication, waiting to be carried. */
interface Prepared {
  readonly signature: Signature;
  readonly queue: string;
  readonly body: string;
}

/** What the broker lends its carrier: its connection and keys, its encoding, its delayed-task mover. */
export interface PublicationHost {
  readonly client: Redis | Cluster;
  readonly keys: Keys;
  /** Encodes as `publish` does, throwing what it throws (the broker closed, a message too large). */
  encode(signature: Signature): { queue: string; body: string };
  /** A task was put in the delayed set with this ETA. */
  delayed(etaMs: number): void;
}

function noop(): void {}

/**
 * The broker's publications run by a Redis backend on the same server, in the script call that stores
 * the tasks' `PENDING` states (see `PublicationCarrier`): a `send` then takes one round trip instead of
 * two, and no task is published without its state. The step is `PUBLISH_MANY`, as for `publishMany`.
 */
export class CarriedPublications implements PublicationCarrier {
  constructor(private readonly host: PublicationHost) {}

  get client(): Redis | Cluster {
    return this.host.client;
  }

  prepare(signature: Signature): Prepared {
    const { queue, body } = this.host.encode(signature);
    return { signature, queue, body };
  }

  carry(items: readonly unknown[]): CarriedStep | undefined {
    if (items.length === 0) return undefined;
    const batch = new PublicationBatch(this.host.keys);
    for (const item of items as readonly Prepared[]) batch.add(item.signature, item.queue, item.body);
    const { keys, args } = batch.script();
    return {
      lua: PUBLISH_MANY,
      keys,
      args,
      failsWrites: true,
      done: () => {
        if (batch.earliest < Number.POSITIVE_INFINITY) this.host.delayed(batch.earliest);
      },
      failed: noop,
    };
  }
}
