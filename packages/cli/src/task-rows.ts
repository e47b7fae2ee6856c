import type { Arg, DeadLetter, Signature } from '@machinery/core';
import { decodeSignature, errorText } from '@machinery/core';
import { jsonDate } from './format.js';

/** A task in a listing, as `--json` prints it. */
export interface TaskRow {
  readonly uuid: string;
  readonly name: string;
  readonly queue: string;
  readonly eta: string | null;
  /** Wire arguments (`{ type, value }`), `null` when there are none. */
  readonly args: { type: string; value: unknown }[] | null;
  readonly retryCount: number;
  readonly groupUUID: string | null;
}

/** A dead letter as `--json` prints it: the task when its body decodes, and always the raw body. */
export interface DeadLetterRow {
  readonly queue: string;
  readonly reason: string;
  readonly at: string | null;
  /** The decoded task, `null` when the body is not a Machinery message. */
  readonly task: TaskRow | null;
  /** Why the body does not decode, `null` when it does. */
  readonly decodeError: string | null;
  readonly body: string;
}

/** The listing row of a signature; an empty routing key is the broker's default queue. */
export function taskRow(sig: Signature, defaultQueue: string): TaskRow {
  return {
    uuid: sig.uuid,
    name: sig.name,
    queue: sig.routingKey || defaultQueue,
    eta: jsonDate(sig.eta),
    args: sig.args === null ? null : sig.args.map((a: Arg) => ({ type: a.type, value: a.value })),
    retryCount: sig.retryCount,
    groupUUID: sig.groupUUID || null,
  };
}

/** The listing row of a dead letter. */
export function deadLetterRow(letter: DeadLetter, defaultQueue: string): DeadLetterRow {
  let task: TaskRow | null = null;
  let decodeError: string | null = null;
  try {
    task = taskRow(decodeSignature(letter.body), defaultQueue);
  } catch (err) {
    decodeError = errorText(err);
  }
  return {
    queue: letter.queue,
    reason: letter.reason,
    at: jsonDate(letter.at),
    task,
    decodeError,
    body: letter.body,
  };
}
