import type { TaskResult } from './arg.js';
import type { Broker, Delivery } from './broker.js';
import type { Signature } from './signature.js';
import { type GroupMeta, type StateUpdate, type TaskState, TaskStatus } from './state.js';

/** What a result backend can do; read by `AsyncResult` and the conformance suites. */
export interface BackendCapabilities {
  /** `waitForState` pushes completion instead of the caller polling. */
  readonly pushResults: boolean;
  /**
   * A state can be read any number of times. False for a store whose reads consume (Go Machinery's AMQP
   * result backend hands out each state once); a queue-based backend that puts back what it reads is
   * durable.
   */
  readonly durableReads: boolean;
  /** Results expire after the configured time. */
  readonly expiry: boolean;
  /**
   * `triggerChord(group, by)` remembers the winning `by` and answers `true` to it again. The Worker
   * then lets only the winning member's redelivery re-send a callback the crashed winner may not have
   * sent; without it, every redelivered member of a triggered chord may (a duplicate callback at worst).
   */
  readonly rememberChordWinner?: boolean;
}

/**
 * Stores task states and group metadata. A third-party backend implements this and runs
 * `backendSuite` from `@machinery/testing`.
 *
 * Each `setState*` writes the task's whole TaskState (keeping `taskName` and `createdAt` of earlier
 * writes where the store allows) and must be durable when the promise resolves: the Worker
 * acknowledges a task only after its outcome is stored. The Worker may issue `setStateReceived` and
 * `setStateStarted` for one task without awaiting the first; writes must apply in call order.
 */
export interface Backend {
  readonly capabilities: BackendCapabilities;
  /** Records a group's member ids (GroupMeta). */
  initGroup(groupUUID: string, taskUUIDs: readonly string[]): Promise<void>;
  /** The group's metadata, or `undefined` when unknown or expired. */
  getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined>;
  /** True when all `groupTaskCount` members are `SUCCESS` or `FAILURE`. */
  groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean>;
  /** Member states in group order. */
  groupTaskStates(groupUUID: string, groupTaskCount: number): Promise<TaskState[]>;
  /**
   * Atomically marks the group's chord as triggered. Exactly one caller per group wins (`true`),
   * however many workers race; it also sets `ChordTriggered` in the GroupMeta for Go readers. `by`
   * names the caller (the Worker passes the UUID of the member whose completion triggers): with
   * `capabilities.rememberChordWinner`, a later call with the winner's `by` — its redelivery after a
   * crash, or a command the client library sent again — returns `true` again; every other caller
   * still gets `false`.
   */
  triggerChord(groupUUID: string, by?: string): Promise<boolean>;
  setStatePending(signature: Signature): Promise<void>;
  /**
   * Optional bulk form of {@link setStatePending}, used by `sendMany` and group sends: stores
   * `PENDING` for every signature, as many `setStatePending` calls would, in as few round trips as the
   * store allows, and resolves once all are stored. A backend without it gets one `setStatePending`
   * per signature. When it rejects, any of the states may have been stored (nothing is published then).
   */
  setStatesPending?(signatures: readonly Signature[]): Promise<void>;
  setStateReceived(signature: Signature): Promise<void>;
  setStateStarted(signature: Signature): Promise<void>;
  /** `error` explains why the task will run again. */
  setStateRetry(signature: Signature, error?: string): Promise<void>;
  setStateSuccess(signature: Signature, results: readonly TaskResult[]): Promise<void>;
  setStateFailure(signature: Signature, error: string): Promise<void>;
  /** The task's state, or `undefined` when there is none (never written, expired or purged). */
  getState(taskUUID: string): Promise<TaskState | undefined>;
  /**
   * Optional fast path for a backend that shares its store with the delivery's broker: stores the
   * task's final state (`SUCCESS` with `update.results`, or `FAILURE` with `update.error`) and
   * acknowledges `delivery` in one atomic step — one round trip instead of two, and never an
   * acknowledgement without the stored outcome. Returns `undefined` at once, having done nothing, when
   * it cannot for this delivery; the Worker then stores and acknowledges separately. The promise
   * resolves once the state is stored (the acknowledgement with it); when it rejects, the delivery may
   * be unacknowledged and comes again after its lease, finding its outcome stored.
   */
  storeAndAcknowledge?(
    delivery: Delivery,
    status: typeof TaskStatus.SUCCESS | typeof TaskStatus.FAILURE,
    update: StateUpdate,
  ): Promise<void> | undefined;
  /**
   * Optional fast path for a backend that shares its store with the broker: stores `signature`'s
   * `PENDING` state and publishes it on `broker` in one atomic step — one round trip instead of two,
   * and never a publication without its state. Returns `undefined` at once, having done nothing, when
   * it cannot with this broker; the sender then stores and publishes separately. Resolves once the task
   * is published; when it rejects, the task was not published (its `PENDING` state may be stored).
   */
  setStatePendingAndPublish?(signature: Signature, broker: Broker): Promise<void> | undefined;
  /**
   * Optional push: resolves with the task's state once it is `SUCCESS` or `FAILURE`; rejects with the
   * signal's reason when `signal` aborts first.
   */
  waitForState?(taskUUID: string, signal: AbortSignal): Promise<TaskState>;
  purgeState(taskUUID: string): Promise<void>;
  purgeGroupMeta(groupUUID: string): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

/**
 * The six `setState*` methods of {@link Backend}, each one call of `writeState` with its status: a
 * backend extends this and implements that one method.
 */
export abstract class StateWritingBackend {
  /** Stores the task's state `status` with `update`, keeping name and creation time where the store allows. */
  protected abstract writeState(signature: Signature, status: TaskStatus, update: StateUpdate): Promise<void>;

  setStatePending(signature: Signature): Promise<void> {
    return this.writeState(signature, TaskStatus.PENDING, {});
  }

  setStateReceived(signature: Signature): Promise<void> {
    return this.writeState(signature, TaskStatus.RECEIVED, {});
  }

  setStateStarted(signature: Signature): Promise<void> {
    return this.writeState(signature, TaskStatus.STARTED, {});
  }

  setStateRetry(signature: Signature, error = ''): Promise<void> {
    return this.writeState(signature, TaskStatus.RETRY, { error });
  }

  setStateSuccess(signature: Signature, results: readonly TaskResult[]): Promise<void> {
    return this.writeState(signature, TaskStatus.SUCCESS, { results: [...results] });
  }

  setStateFailure(signature: Signature, error: string): Promise<void> {
    return this.writeState(signature, TaskStatus.FAILURE, { error });
  }
}
