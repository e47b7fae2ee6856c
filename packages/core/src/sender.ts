import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import { invalidArgument, MachineryError } from './errors.js';
import type { Logger } from './logger.js';
import {
  composeMiddleware,
  type PublishContext,
  type PublishMiddleware,
  type PublishOrigin,
} from './middleware.js';
import { type Headers, type Signature, taskUUID } from './signature.js';
import type { Group } from './workflow.js';

/** What a {@link Sender} publishes with. */
export interface SenderOptions {
  broker: Broker;
  /** Where `PENDING` is stored before publishing; without one nothing is stored. */
  backend?: Backend | undefined;
  logger: Logger;
  /** Publish middleware, outermost first. */
  middleware?: readonly PublishMiddleware[] | undefined;
}

/** Options for sending groups and chords. */
export interface SendGroupOptions {
  /**
   * Publish at most this many members at once. Unset or 0 publishes all members in one bulk call,
   * which is all-or-none on brokers that declare `atomicBulkPublish`.
   */
  sendConcurrency?: number;
}

/** One signature passing through the publish middleware. */
class Publication implements PublishContext {
  /** Set when the innermost step was reached, to refuse a second `next()` and to tell a dropped signature. */
  admitted = false;
  /** Set when a bulk send no longer waits for this chain (admitted, dropped or refused). */
  arrived = false;

  constructor(
    readonly signature: Signature,
    readonly origin: PublishOrigin,
    readonly logger: Logger,
    /** Position in a bulk send. */
    readonly index: number,
  ) {}

  get headers(): Headers {
    return this.signature.headers as Headers;
  }

  admit(): void {
    if (this.admitted) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `A publish middleware called next() twice for task "${this.signature.name}" (${this.signature.uuid}); call it once.`,
      );
    }
    this.admitted = true;
  }
}

/**
 * The one send path, used by the Server and by a Worker's callbacks and retries. Per signature:
 * prepare (name check, UUID, headers `{}` as Go sends them) → publish middleware → store `PENDING` →
 * publish. Bulk sends run each signature's middleware, then store every `PENDING` and publish once.
 */
export class Sender {
  private readonly broker: Broker;
  private readonly backend: Backend | undefined;
  private readonly logger: Logger;
  private readonly publishOne: ((publication: Publication) => Promise<void>) | undefined;
  private readonly middleware: readonly PublishMiddleware[] | undefined;

  constructor(options: SenderOptions) {
    this.broker = options.broker;
    this.backend = options.backend;
    this.logger = options.logger;
    this.middleware = options.middleware;
    this.publishOne = composeMiddleware<Publication>(options.middleware, (publication) => {
      publication.admit();
      return this.storeAndPublish(publication.signature);
    });
  }

  /**
   * Sends one signature. Resolves `true` once it is published, `false` when a middleware dropped it.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` for a signature without a name; a middleware's error;
   * the backend's or broker's error when either cannot take it (the task is then not sent).
   */
  async send(signature: Signature, origin: PublishOrigin = 'send'): Promise<boolean> {
    prepare(signature);
    if (this.publishOne === undefined) {
      await this.storeAndPublish(signature);
      return true;
    }
    const publication = new Publication(signature, origin, this.logger, 0);
    await this.publishOne(publication);
    return publication.admitted;
  }

  /**
   * Sends many independent signatures with one bulk publish (all-or-none on brokers with
   * `atomicBulkPublish`). Resolves with whether each was published (`false`: a middleware dropped it).
   * Nothing is published when a middleware throws for any of them.
   */
  async sendMany(signatures: readonly Signature[], origin: PublishOrigin = 'send'): Promise<boolean[]> {
    for (const signature of signatures) prepare(signature);
    return this.throughMiddleware(signatures, origin, async (admitted) => {
      await this.storePending(admitted);
      if (admitted.length > 0) await this.broker.publishMany(admitted);
    });
  }

  /**
   * Sends a group: records its members (GroupMeta), stores `PENDING` for each, publishes them.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` when a middleware drops a member (a group is sent
   * whole or not at all), or any error of {@link send}.
   */
  async sendGroup(
    group: Group,
    options: SendGroupOptions = {},
    origin: PublishOrigin = 'send',
  ): Promise<void> {
    for (const signature of group.tasks) prepare(signature);
    await this.throughMiddleware(group.tasks, origin, async (admitted) => {
      if (admitted.length !== group.tasks.length) {
        throw invalidArgument(
          `A publish middleware dropped ${group.tasks.length - admitted.length} of the ${group.tasks.length} members of group ${group.groupUUID}; a group is sent whole or not at all, so nothing was sent. Throw from the middleware to refuse a group.`,
        );
      }
      if (this.backend) {
        await this.backend.initGroup(
          group.groupUUID,
          group.tasks.map((t) => t.uuid),
        );
      }
      await this.storePending(admitted);
      await this.publishGroup(admitted, options.sendConcurrency ?? 0);
    });
  }

  private async storeAndPublish(signature: Signature): Promise<void> {
    const backend = this.backend;
    if (backend !== undefined) {
      const joint = backend.setStatePendingAndPublish?.(signature, this.broker);
      if (joint !== undefined) return joint;
      await backend.setStatePending(signature);
    }
    await this.broker.publish(signature);
  }

  private async storePending(signatures: readonly Signature[]): Promise<void> {
    const backend = this.backend;
    if (backend === undefined || signatures.length === 0) return;
    if (backend.setStatesPending !== undefined) await backend.setStatesPending(signatures);
    else await Promise.all(signatures.map((s) => backend.setStatePending(s)));
  }

  private async publishGroup(members: readonly Signature[], sendConcurrency: number): Promise<void> {
    if (sendConcurrency <= 0) {
      await this.broker.publishMany(members);
      return;
    }
    let next = 0;
    const lanes = Array.from({ length: Math.min(sendConcurrency, members.length) }, async () => {
      while (next < members.length) await this.broker.publish(members[next++] as Signature);
    });
    await Promise.all(lanes);
  }

  /**
   * Runs each signature's middleware chain concurrently; `publish` runs once every chain has reached
   * its innermost step or returned without it, so that each `next()` resolves (or rejects) with the
   * real bulk publication — a middleware wraps the publish in a bulk send as it does in a single one.
   * A chain that throws before reaching the innermost step cancels the publication.
   */
  private async throughMiddleware(
    signatures: readonly Signature[],
    origin: PublishOrigin,
    publish: (admitted: Signature[]) => Promise<void>,
  ): Promise<boolean[]> {
    if (this.middleware === undefined || this.middleware.length === 0) {
      await publish([...signatures]);
      return signatures.map(() => true);
    }
    let outstanding = signatures.length;
    let refusal: { error: unknown } | undefined;
    let resolvePublished!: () => void;
    let rejectPublished!: (error: unknown) => void;
    const published = new Promise<void>((resolve, reject) => {
      resolvePublished = resolve;
      rejectPublished = reject;
    });
    // Chains that never reached next() do not await it; its rejection still reaches the caller below.
    published.catch(() => {});
    const publications = signatures.map((s, i) => new Publication(s, origin, this.logger, i));
    const arrive = (publication: Publication) => {
      if (publication.arrived) return;
      publication.arrived = true;
      if (--outstanding > 0) return;
      if (refusal) {
        rejectPublished(refusal.error);
        return;
      }
      const admitted = publications.filter((p) => p.admitted).map((p) => p.signature);
      publish(admitted).then(resolvePublished, rejectPublished);
    };
    const chain = composeMiddleware<Publication>(this.middleware, (publication) => {
      publication.admit();
      arrive(publication);
      return published;
    }) as (publication: Publication) => Promise<void>;
    const outcomes = await Promise.allSettled(
      publications.map(async (publication) => {
        try {
          await chain(publication);
        } catch (error) {
          if (!publication.admitted) refusal ??= { error };
          arrive(publication);
          throw error;
        }
        arrive(publication);
      }),
    );
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    await published;
    return publications.map((p) => p.admitted);
  }
}

function prepare(signature: Signature): void {
  if (typeof signature?.name !== 'string' || signature.name === '') {
    throw invalidArgument('Cannot send a signature without a task name.');
  }
  if (signature.uuid === '') signature.uuid = taskUUID();
  // Go's SendTask always leaves Headers as {} (its tracing injection), never null.
  if (signature.headers === null) signature.headers = {};
}
