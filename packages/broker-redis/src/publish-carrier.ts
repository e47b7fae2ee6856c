import type { Signature } from '@machinery/core';
import {
  type CarriedStep,
  type PreparedPublication,
  type PublishOffer,
  redisConnectionError,
  type StepCarrier,
} from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import type { BrokerContext } from './context.js';
import { PublicationBatch } from './publication-batch.js';
import { PUBLISH_MANY } from './scripts.js';

interface Publication {
  readonly signature: Signature;
  readonly queue: string;
  readonly body: string;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The broker's publication, offered to a Redis backend on the same server: the backend stores a
 * task's `PENDING` and publishes it in one script call, so a `send` costs one round trip instead of
 * two, and the task is in its queue only once its `PENDING` is stored (as when the two run apart).
 */
export class RedisPublishCarrier implements StepCarrier<unknown>, PublishOffer {
  readonly carrier: StepCarrier<unknown> = this;

  constructor(
    private readonly ctx: BrokerContext,
    /** Checks the broker is open and encodes as `publish` does. */
    private readonly encode: (signature: Signature) => { queue: string; body: string },
    /** Told the earliest ETA a carried step put in the delayed set. */
    private readonly onDelayed: (etaMs: number) => void,
  ) {}

  get client(): Redis | Cluster {
    return this.ctx.client;
  }

  prepare(signature: Signature): PreparedPublication {
    const { queue, body } = this.encode(signature);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const published = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const item: Publication = { signature, queue, body, resolve, reject };
    return { item, published };
  }

  carry(items: readonly unknown[]): CarriedStep | undefined {
    const publications = items as readonly Publication[];
    if (publications.length === 0) return undefined;
    const batch = new PublicationBatch(this.ctx.keys);
    for (const p of publications) batch.add(p.signature, p.queue, p.body);
    const { keys, args } = batch.script();
    const fail = (err: unknown) => {
      for (const p of publications) {
        p.reject(
          redisConnectionError(`Publishing task "${p.signature.name}"`, this.ctx.where, err, this.ctx.client),
        );
      }
    };
    return {
      lua: PUBLISH_MANY,
      keys,
      args,
      done: (reply) => {
        // A refusal of the script (a key of the wrong type) comes back as an error inside the reply.
        if (reply instanceof Error) {
          fail(reply);
          return;
        }
        if (batch.earliest < Number.POSITIVE_INFINITY) this.onDelayed(batch.earliest);
        for (const p of publications) p.resolve();
      },
      failed: fail,
    };
  }
}
