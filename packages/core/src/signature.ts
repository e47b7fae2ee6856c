import { randomUUID } from 'node:crypto';
import { type Arg, toArg } from './arg.js';
import type { JsonValue } from './json.js';

/** Message headers: a string-keyed map, as Go's `map[string]interface{}`. */
export type Headers = { [key: string]: JsonValue };

/**
 * One task invocation, the unit that travels through a broker. Field for field the Go `Signature`
 * (reference §1.2) in camelCase; the codec writes it as Go's JSON.
 */
export interface Signature {
  /** Task id and result key: `task_<uuid>` (chord callbacks `chord_<uuid>`); kept across retries. */
  uuid: string;
  /** Registered task name. */
  name: string;
  /** Destination queue; empty means the broker's default queue. */
  routingKey: string;
  /** Earliest execution time; `null` runs as soon as possible. */
  eta: Date | null;
  /** `group_<uuid>` for members of a group or chord, else empty. */
  groupUUID: string;
  /** Number of members in the group. */
  groupTaskCount: number;
  /** Positional arguments, `null` when there are none (as Go writes it). */
  args: Arg[] | null;
  /** Headers; `{}` once sent, `null` on nested signatures never sent. */
  headers: Headers | null;
  /** 0–255; honoured by brokers whose capabilities include priorities. */
  priority: number;
  /** When true, this task's results are not passed to its `onSuccess` callbacks. */
  immutable: boolean;
  /** Automatic retries left. */
  retryCount: number;
  /** Last retry delay in seconds (Fibonacci back-off continues from it). */
  retryTimeout: number;
  /** Sent after success, with this task's results appended to their args unless `immutable`. */
  onSuccess: Signature[] | null;
  /** Sent after final failure, with the error text prepended to their args. */
  onError: Signature[] | null;
  /** Chord callback, sent once after every group member has succeeded. */
  chordCallback: Signature | null;
  /** SQS FIFO `MessageGroupId`. */
  brokerMessageGroupId: string;
  /** Set by the SQS broker on delivery (Go compatibility). */
  sqsReceiptHandle: string;
  /** SQS: leave a finally failed message for the queue's redrive policy. */
  stopTaskDeletionOnError: boolean;
  /** Drop the message instead of requeueing when no worker has this task registered. */
  ignoreWhenTaskNotRegistered: boolean;
}

/** Fields a caller may set when creating a signature; everything else gets Go's zero value. */
export type SignatureOptions = Partial<Omit<Signature, 'name' | 'args'>>;

/** A new task id: `task_<uuid v4>`. */
export function taskUUID(): string {
  return `task_${randomUUID()}`;
}

/** A new group id: `group_<uuid v4>`. */
export function groupUUID(): string {
  return `group_${randomUUID()}`;
}

/** A new chord callback id: `chord_<uuid v4>`. */
export function chordUUID(): string {
  return `chord_${randomUUID()}`;
}

/**
 * Creates a signature for the task `name` with the given arguments (inferred Go types, or `arg()` to
 * override) and Go's zero values elsewhere.
 *
 * @example
 * ```ts
 * const sig = signature('add', [1, 2], { retryCount: 3 })
 * ```
 */
export function signature(
  name: string,
  args: readonly unknown[] = [],
  options: SignatureOptions = {},
): Signature {
  return {
    uuid: options.uuid ?? taskUUID(),
    name,
    routingKey: options.routingKey ?? '',
    eta: options.eta ?? null,
    groupUUID: options.groupUUID ?? '',
    groupTaskCount: options.groupTaskCount ?? 0,
    args: args.length === 0 ? null : args.map(toArg),
    headers: options.headers ?? null,
    priority: options.priority ?? 0,
    immutable: options.immutable ?? false,
    retryCount: options.retryCount ?? 0,
    retryTimeout: options.retryTimeout ?? 0,
    onSuccess: options.onSuccess ?? null,
    onError: options.onError ?? null,
    chordCallback: options.chordCallback ?? null,
    brokerMessageGroupId: options.brokerMessageGroupId ?? '',
    sqsReceiptHandle: options.sqsReceiptHandle ?? '',
    stopTaskDeletionOnError: options.stopTaskDeletionOnError ?? false,
    ignoreWhenTaskNotRegistered: options.ignoreWhenTaskNotRegistered ?? false,
  };
}

/** A deep copy, so a periodic task or a retry never shares mutable state with its template. */
export function copySignature<S extends Signature>(sig: S): S {
  return {
    ...sig,
    eta: sig.eta,
    args: sig.args === null ? null : sig.args.map((a) => ({ ...a, value: copyJson(a.value) })),
    headers: sig.headers === null ? null : (copyJson(sig.headers) as Headers),
    onSuccess: sig.onSuccess === null ? null : sig.onSuccess.map(copySignature),
    onError: sig.onError === null ? null : sig.onError.map(copySignature),
    chordCallback: sig.chordCallback === null ? null : copySignature(sig.chordCallback),
  };
}

function copyJson(v: JsonValue): JsonValue {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) {
    Object.defineProperty(out, k, {
      value: copyJson(x),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
