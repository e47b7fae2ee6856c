import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { TaskRevokedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskMiddleware, TaskMiddlewareContext } from '../middleware.js';
import type { Signature } from '../signature.js';
import type { WorkerEvents } from '../worker-events.js';
import type { ControlOptions, ControlPlane } from './control-plane.js';
import { ProgressWriter } from './progress-writer.js';
import type { Revocation, Unsubscribe } from './revocations.js';
import { TaskEventBuffer } from './task-event-buffer.js';
import type { TaskEvent, TaskEventType } from './task-events.js';

/** What {@link WorkerControl} needs from the worker it serves. */
export interface WorkerControlHost {
  readonly queue: string;
  readonly concurrency: number;
  readonly logger: Logger;
  /** Names of the tasks the worker can run. */
  taskNames(): string[];
  /** Subscribes to the worker's events. */
  on<K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): () => void;
  /** Stops fetching and hands back what was fetched but not started. */
  pause(): Promise<void>;
  /** Fetches again. */
  resume(): Promise<void>;
  /** Reports a background failure. */
  reportError(error: unknown): void;
}

let coreVersion: string | undefined;

/** The version of `@machinery/core` this worker runs, read once from its package.json. */
function version(): string {
  if (coreVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
      coreVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      coreVersion = 'unknown';
    }
  }
  return coreVersion as string;
}

/**
 * Everything a worker does with a control plane, beside its pipeline: the revocation middleware, the
 * abort of running tasks when a revocation is announced, pausing with its queue, heartbeats, task
 * events and stored progress. The Worker creates one only when its server has a control plane, so a
 * worker without one pays nothing.
 */
export class WorkerControl {
  /** Unique id of this worker in the registry. */
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  /** The revocation middleware: the outermost of the worker's task middleware. */
  readonly middleware: TaskMiddleware;
  private readonly heartbeatMs: number;
  /** Runs in this worker by task UUID, from before the revocation check until their outcome is known. */
  private readonly running = new Map<string, TaskMiddlewareContext>();
  private readonly events: TaskEventBuffer | undefined;
  private readonly progress: ProgressWriter;
  private detachers: (() => void)[] = [];
  private unsubscribers: Unsubscribe[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private processed = 0;
  private failed = 0;
  private paused = false;
  /**
   * From `attach()` until `detach()`: a pause announced while the worker stops (or delivered after its
   * listener was removed) must not register the stopped worker again with a heartbeat.
   */
  private attached = false;
  /** Revocation lookups of this tick, sent as one batch. */
  private lookups: {
    uuid: string;
    resolve: (r: Revocation | undefined) => void;
    reject: (e: unknown) => void;
  }[] = [];

  constructor(
    private readonly host: WorkerControlHost,
    private readonly plane: ControlPlane,
    options: ControlOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    const onError = (err: unknown) => host.reportError(err);
    if (options.events !== false)
      this.events = new TaskEventBuffer(plane.events, options.maxBufferedEvents ?? 10_000, onError);
    this.progress = new ProgressWriter(
      plane.progress,
      options.progressIntervalMs ?? 250,
      options.progressTtlMs ?? 3_600_000,
      onError,
    );
    this.middleware = (context, next) => this.guard(context, next);
  }

  /** Events dropped because the stream was slow or failing. */
  get droppedEvents(): number {
    return this.events?.dropped ?? 0;
  }

  /**
   * Called as the worker starts, before it fetches: listens for revocations and pauses, reads whether
   * its queue is paused (then pauses the worker), registers the worker and starts its heartbeat.
   */
  async attach(): Promise<void> {
    this.startedAt = Date.now();
    this.attached = true;
    this.listenToWorker();
    try {
      this.unsubscribers.push(
        await this.plane.revocations.onRevoke((revocations) => this.onRevoke(revocations)),
        await this.plane.pauses.onChange((queue, paused) => {
          if (queue === this.host.queue && this.attached) void this.setPaused(paused);
        }),
      );
      // The stored state wins over what this worker last knew (it may have been resumed meanwhile).
      this.paused = await this.plane.pauses.isPaused(this.host.queue);
      await (this.paused ? this.host.pause() : this.host.resume());
      await this.beat();
    } catch (err) {
      await this.detach();
      throw err;
    }
    this.heartbeat = setInterval(() => {
      this.beat().catch((err) => this.host.reportError(err));
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Called once the worker stopped: removes it from the registry, publishes what is left. */
  async detach(): Promise<void> {
    this.attached = false;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const detach of this.detachers.splice(0)) detach();
    const unsubscribers = this.unsubscribers.splice(0);
    await Promise.all(unsubscribers.map((u) => u().catch((err) => this.host.reportError(err))));
    await this.plane.workers.remove(this.id).catch((err) => this.host.reportError(err));
    await this.progress.close();
    await this.events?.drain();
  }

  private async setPaused(paused: boolean): Promise<void> {
    this.paused = paused;
    try {
      if (paused) await this.host.pause();
      else await this.host.resume();
    } catch (err) {
      this.host.reportError(err);
    }
    this.host.logger.info({ paused }, paused ? 'queue paused' : 'queue resumed');
    if (!this.attached) return;
    await this.beat().catch((err) => this.host.reportError(err));
  }

  private beat(): Promise<void> {
    return this.plane.workers.heartbeat(
      {
        id: this.id,
        host: hostname(),
        pid: process.pid,
        queue: this.host.queue,
        concurrency: this.host.concurrency,
        running: [...this.running.keys()],
        processed: this.processed,
        failed: this.failed,
        tasks: this.host.taskNames(),
        version: version(),
        startedAt: this.startedAt,
        heartbeatAt: Date.now(),
        paused: this.paused,
      },
      this.heartbeatMs * 3,
    );
  }

  /** The revocation middleware: a revoked task never starts; one revoked while running is failed. */
  private async guard(context: TaskMiddlewareContext, next: () => Promise<void>): Promise<void> {
    const uuid = context.signature.uuid;
    // Registered before the lookup, so a revocation announced meanwhile still reaches this run.
    this.running.set(uuid, context);
    try {
      let revocation: Revocation | undefined;
      try {
        revocation = await this.lookup(uuid);
      } catch (err) {
        // The control plane is down: run the task rather than stop the queue; a revocation announced
        // while it runs still aborts it.
        this.host.reportError(err);
      }
      if (revocation !== undefined) this.revoke(context, revocation);
      await next();
    } finally {
      if (this.running.get(uuid) === context) this.running.delete(uuid);
    }
  }

  /** Looks `uuid` up with the other lookups of this tick, in one batch. */
  private lookup(uuid: string): Promise<Revocation | undefined> {
    return new Promise((resolve, reject) => {
      this.lookups.push({ uuid, resolve, reject });
      if (this.lookups.length > 1) return;
      queueMicrotask(() => {
        const batch = this.lookups;
        this.lookups = [];
        this.plane.revocations.revoked(batch.map((l) => l.uuid)).then(
          (found) => {
            for (let i = 0; i < batch.length; i++) batch[i]?.resolve(found[i]);
          },
          (err) => {
            for (const l of batch) l.reject(err);
          },
        );
      });
    });
  }

  private onRevoke(revocations: readonly Revocation[]): void {
    for (const revocation of revocations) {
      const context = this.running.get(revocation.uuid);
      if (context !== undefined && context.outcome === undefined) this.revoke(context, revocation);
    }
  }

  private revoke(context: TaskMiddlewareContext, revocation: Revocation): void {
    const signature = context.signature;
    const error = new TaskRevokedError(signature.name, signature.uuid, revocation.reason);
    context.fail(error);
    this.publish('revoked', signature, { error: error.message });
  }

  private listenToWorker(): void {
    const on = this.host.on.bind(this.host);
    this.detachers.push(
      on('progress', ({ signature, data }) => this.progress.report(signature.uuid, data)),
      on('succeeded', ({ signature, durationMs }) => {
        this.processed++;
        this.publish('succeeded', signature, { durationMs });
      }),
      on('failed', ({ signature, error, durationMs }) => {
        this.processed++;
        this.failed++;
        this.publish('failed', signature, { error, durationMs });
      }),
    );
    if (this.events === undefined) return;
    this.detachers.push(
      on('received', ({ signature }) => this.publish('received', signature, {})),
      on('started', ({ signature }) => this.publish('started', signature, {})),
      on('retried', ({ signature, error, delayMs }) =>
        this.publish('retried', signature, { error, delayMs }),
      ),
      on('deadLettered', ({ signature, reason }) =>
        this.publish('deadLettered', signature, { error: reason }),
      ),
    );
  }

  private publish(
    type: TaskEventType,
    signature: Signature,
    extra: { error?: string; delayMs?: number; durationMs?: number },
  ): void {
    this.events?.push(taskEvent(type, signature, { workerId: this.id, ...extra }));
  }
}

/** A task event about `signature`. */
export function taskEvent(
  type: TaskEventType,
  signature: Signature,
  extra: { workerId?: string; error?: string; delayMs?: number; durationMs?: number },
): TaskEvent {
  return {
    type,
    taskUUID: signature.uuid,
    taskName: signature.name,
    queue: signature.routingKey,
    at: Date.now(),
    ...extra,
  };
}
