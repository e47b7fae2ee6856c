import { type TaskResult, toArg } from './arg.js';
import { resultToArg } from './argument-conversion.js';
import type { Backend } from './backend.js';
import { MachineryError } from './errors.js';
import type { RetryDelay } from './retry.js';
import type { Sender } from './sender.js';
import { copySignature, type Signature } from './signature.js';
import { isCompleted, type TaskState, TaskStatus } from './state.js';

/** How long a chord's trigger waits for members being run again by a duplicate delivery. */
const RERUN_WAIT_MS = 10_000;
const RERUN_POLL_MS = 50;

/** True when a success of `signature` has something to send: `onSuccess` callbacks or a chord. */
export function hasSuccessFollowUps(signature: Signature): boolean {
  return (signature.onSuccess !== null && signature.onSuccess.length > 0) || signature.chordCallback !== null;
}

/** True when a failure of `signature` has something to send: `onError` callbacks or a chord. */
export function hasFailureFollowUps(signature: Signature): boolean {
  return (signature.onError !== null && signature.onError.length > 0) || signature.chordCallback !== null;
}

/**
 * What a worker sends after storing an outcome: `onSuccess` / `onError` callbacks, the chord callback,
 * and the re-sent task of a retry — all through the one send path. With `recovering` (a redelivery of
 * a task whose outcome was already stored) only what the crashed attempt may not have sent is sent.
 */
export class FollowUps {
  constructor(
    private readonly sender: Sender,
    private readonly backend: Backend | undefined,
  ) {}

  /** Sends `onSuccess` callbacks (results appended unless immutable) and triggers the chord. */
  async afterSuccess(
    signature: Signature,
    results: readonly TaskResult[],
    recovering: boolean,
  ): Promise<void> {
    for (const callback of signature.onSuccess ?? []) {
      const next = copySignature(callback);
      if (!signature.immutable) next.args = [...(next.args ?? []), ...results.map(resultToArg)];
      await this.sendCallback(next, recovering);
    }
    await this.maybeTriggerChord(signature, recovering);
  }

  /** Sends `onError` callbacks (error text prepended) and lets a chord fail visibly. */
  async afterFailure(signature: Signature, error: string, recovering: boolean): Promise<void> {
    for (const callback of signature.onError ?? []) {
      const next = copySignature(callback);
      next.args = [toArg(error), ...(next.args ?? [])];
      await this.sendCallback(next, recovering);
    }
    await this.maybeTriggerChord(signature, recovering);
  }

  /**
   * Sends the task again with the same UUID (the producer's `AsyncResult` follows it) to run after
   * `delayMs`; `backoff` consumes one of its retries and records the new back-off, as Go does.
   */
  async retry(signature: Signature, delayMs: number, backoff: RetryDelay | undefined): Promise<void> {
    const next = copySignature(signature);
    if (backoff) {
      next.retryCount = signature.retryCount - 1;
      next.retryTimeout = backoff.timeout;
    }
    next.eta = delayMs > 0 ? new Date(Date.now() + delayMs) : null;
    next.sqsReceiptHandle = '';
    await this.sender.send(next, 'retry');
  }

  private async sendCallback(signature: Signature, recovering: boolean): Promise<void> {
    if (recovering && !(await this.maybeUnsent(signature.uuid))) return;
    await this.sender.send(signature, 'callback');
  }

  /**
   * Whether a callback the crashed attempt may have sent may also never have reached the broker:
   * sending stores PENDING before it publishes, so a PENDING callback may have died in between. Such a
   * callback is sent again — a duplicate at worst (at-least-once), never a loss.
   */
  private async maybeUnsent(uuid: string): Promise<boolean> {
    if (!this.backend) return true;
    const state = await this.backend.getState(uuid);
    return state === undefined || state.state === TaskStatus.PENDING;
  }

  private async maybeTriggerChord(signature: Signature, recovering: boolean): Promise<void> {
    const backend = this.backend;
    const callback = signature.chordCallback;
    if (!backend || signature.groupUUID === '' || callback === null) return;
    if (!(await backend.groupCompleted(signature.groupUUID, signature.groupTaskCount))) return;
    const won = await backend.triggerChord(signature.groupUUID, signature.uuid);
    // A winner seen again (a backend that remembers the winner answers its redelivery `true`) may have
    // died before its callback left; so may an unknown winner, when the backend cannot tell: then any
    // recovering member re-sends. Either way only a callback that may be unsent is sent.
    const mayResend = won || (recovering && backend.capabilities.rememberChordWinner !== true);
    if (!mayResend || !(await this.maybeUnsent(callback.uuid))) return;
    const states = await this.completedStates(signature.groupUUID, signature.groupTaskCount);
    const failedMember = states.find((s) => s.state !== TaskStatus.SUCCESS);
    const next = copySignature(callback);
    if (failedMember) {
      // Go drops the callback silently here; we fail it visibly and run its error path.
      const error = `Chord ${signature.groupUUID} cannot run: member ${failedMember.taskUUID} (${failedMember.taskName}) ended in ${failedMember.state}: ${failedMember.error}`;
      await backend.setStateFailure(next, error);
      for (const errorCallback of next.onError ?? []) {
        const sent = copySignature(errorCallback);
        sent.args = [toArg(error), ...(sent.args ?? [])];
        await this.sender.send(sent, 'callback');
      }
      return;
    }
    if (!next.immutable) {
      const appended = states.flatMap((s) => (s.results ?? []).map(resultToArg));
      next.args = [...(next.args ?? []), ...appended];
    }
    await this.sender.send(next, 'callback');
  }

  /**
   * The group's member states once every one is an outcome. The group was complete a moment ago, so a
   * member in a progress state is being run again by a duplicate delivery (at-least-once), which wrote
   * STARTED over its outcome and will store it again: that is no reason to fail the chord, so wait for
   * it. If it takes too long, throw: the member's delivery is not acknowledged, and its redelivery
   * (the winner is remembered, or recovering members re-send) sends the callback.
   */
  private async completedStates(groupUUID: string, groupTaskCount: number): Promise<TaskState[]> {
    const backend = this.backend as Backend;
    const deadline = Date.now() + RERUN_WAIT_MS;
    for (;;) {
      const states = await backend.groupTaskStates(groupUUID, groupTaskCount);
      const running = states.find((s) => !isCompleted(s.state));
      if (running === undefined) return states;
      if (Date.now() >= deadline) {
        throw new MachineryError(
          'ERR_RETRY_LATER',
          `Chord ${groupUUID}: member ${running.taskUUID} is ${running.state} again (a duplicate delivery runs it); its callback is sent once it completes.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RERUN_POLL_MS));
    }
  }
}
