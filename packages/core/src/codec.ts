import type { Arg, TaskResult } from './arg.js';
import { DecodeError, MachineryError } from './errors.js';
import { encodeJson, encodeNumber, encodeString, type JsonValue, parseJson } from './json.js';
import type { Headers, Signature } from './signature.js';
import { type GroupMeta, isTaskStatus, type TaskState, type TaskStatus } from './state.js';
import { formatTime, parseTime } from './time.js';

// The codec is the only module that knows Machinery's wire format: Go's encoding/json of the Go structs,
// keys in struct order, nothing omitted, nil slices and pointers as null.

function encodeArgs(args: readonly Arg[] | null): string {
  if (args === null) return 'null';
  let out = '[';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Arg;
    if (i > 0) out += ',';
    out += `{"Name":${encodeString(a.name)},"Type":${encodeString(a.type)},"Value":${encodeJson(a.value)}}`;
  }
  return `${out}]`;
}

function encodeResults(results: readonly TaskResult[] | null): string {
  if (results === null) return 'null';
  let out = '[';
  for (let i = 0; i < results.length; i++) {
    const r = results[i] as TaskResult;
    if (i > 0) out += ',';
    out += `{"Type":${encodeString(r.type)},"Value":${encodeJson(r.value)}}`;
  }
  return `${out}]`;
}

function encodeSignatures(list: readonly Signature[] | null): string {
  if (list === null) return 'null';
  let out = '[';
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out += ',';
    out += encodeSignature(list[i] as Signature);
  }
  return `${out}]`;
}

function int(n: number, field: string): string {
  if (!Number.isInteger(n)) {
    throw new MachineryError('ERR_ENCODE', `Signature field ${field} must be an integer, got ${n}.`);
  }
  return encodeNumber(n);
}

/**
 * Encodes a signature as Go Machinery's JSON, byte for byte what a Go producer would send.
 * @throws MachineryError `ERR_ENCODE` when a value cannot be represented (NaN, non-integer counts…).
 */
export function encodeSignature(sig: Signature): string {
  return (
    `{"UUID":${encodeString(sig.uuid)},"Name":${encodeString(sig.name)},"RoutingKey":${encodeString(sig.routingKey)}` +
    `,"ETA":${sig.eta === null ? 'null' : `"${formatTime(sig.eta)}"`}` +
    `,"GroupUUID":${encodeString(sig.groupUUID)},"GroupTaskCount":${int(sig.groupTaskCount, 'GroupTaskCount')}` +
    `,"Args":${encodeArgs(sig.args)},"Headers":${sig.headers === null ? 'null' : encodeJson(sig.headers, true)}` +
    `,"Priority":${int(sig.priority, 'Priority')},"Immutable":${sig.immutable}` +
    `,"RetryCount":${int(sig.retryCount, 'RetryCount')},"RetryTimeout":${int(sig.retryTimeout, 'RetryTimeout')}` +
    `,"OnSuccess":${encodeSignatures(sig.onSuccess)},"OnError":${encodeSignatures(sig.onError)}` +
    `,"ChordCallback":${sig.chordCallback === null ? 'null' : encodeSignature(sig.chordCallback)}` +
    `,"BrokerMessageGroupId":${encodeString(sig.brokerMessageGroupId)}` +
    `,"SQSReceiptHandle":${encodeString(sig.sqsReceiptHandle)}` +
    `,"StopTaskDeletionOnError":${sig.stopTaskDeletionOnError}` +
    `,"IgnoreWhenTaskNotRegistered":${sig.ignoreWhenTaskNotRegistered}}`
  );
}

function compactList(list: readonly Signature[]): string {
  let out = '[';
  for (let i = 0; i < list.length; i++)
    out += (i > 0 ? ',' : '') + encodeSignatureCompact(list[i] as Signature);
  return `${out}]`;
}

/**
 * Encodes a signature as Go Machinery's JSON without the fields that hold Go's zero value (and without
 * the arguments' empty `Name`). Go's decoder fills missing fields with zero values, so a Go worker reads
 * it exactly as the full form — at a fifth of the size for a typical task, which is what a broker
 * stores per queued task. Key order is Go's.
 * @throws MachineryError `ERR_ENCODE` as {@link encodeSignature}.
 */
export function encodeSignatureCompact(sig: Signature): string {
  let out = `{"UUID":${encodeString(sig.uuid)},"Name":${encodeString(sig.name)},"RoutingKey":${encodeString(sig.routingKey)}`;
  if (sig.eta !== null) out += `,"ETA":"${formatTime(sig.eta)}"`;
  if (sig.groupUUID !== '') out += `,"GroupUUID":${encodeString(sig.groupUUID)}`;
  if (sig.groupTaskCount !== 0) out += `,"GroupTaskCount":${int(sig.groupTaskCount, 'GroupTaskCount')}`;
  if (sig.args !== null && sig.args.length > 0) {
    out += ',"Args":[';
    for (let i = 0; i < sig.args.length; i++) {
      const a = sig.args[i] as Arg;
      if (i > 0) out += ',';
      out += a.name === '' ? '{' : `{"Name":${encodeString(a.name)},`;
      out += `"Type":${encodeString(a.type)},"Value":${encodeJson(a.value)}}`;
    }
    out += ']';
  }
  if (sig.headers !== null && Object.keys(sig.headers).length > 0)
    out += `,"Headers":${encodeJson(sig.headers, true)}`;
  if (sig.priority !== 0) out += `,"Priority":${int(sig.priority, 'Priority')}`;
  if (sig.immutable) out += ',"Immutable":true';
  if (sig.retryCount !== 0) out += `,"RetryCount":${int(sig.retryCount, 'RetryCount')}`;
  if (sig.retryTimeout !== 0) out += `,"RetryTimeout":${int(sig.retryTimeout, 'RetryTimeout')}`;
  if (sig.onSuccess !== null && sig.onSuccess.length > 0) out += `,"OnSuccess":${compactList(sig.onSuccess)}`;
  if (sig.onError !== null && sig.onError.length > 0) out += `,"OnError":${compactList(sig.onError)}`;
  if (sig.chordCallback !== null) out += `,"ChordCallback":${encodeSignatureCompact(sig.chordCallback)}`;
  if (sig.brokerMessageGroupId !== '')
    out += `,"BrokerMessageGroupId":${encodeString(sig.brokerMessageGroupId)}`;
  if (sig.sqsReceiptHandle !== '') out += `,"SQSReceiptHandle":${encodeString(sig.sqsReceiptHandle)}`;
  if (sig.stopTaskDeletionOnError) out += ',"StopTaskDeletionOnError":true';
  if (sig.ignoreWhenTaskNotRegistered) out += ',"IgnoreWhenTaskNotRegistered":true';
  return `${out}}`;
}

/**
 * A task state's JSON cut around the values of `TaskName` and `CreatedAt`:
 * `head + taskName + middle + createdAt + tail` is exactly {@link encodeTaskState}. A store that keeps
 * the earlier name and creation time inside the server (the Redis backend's write script) puts the
 * stored values in place of these two without parsing JSON.
 */
export interface TaskStateParts {
  /** Everything up to the `TaskName` value: `{"TaskUUID":"…","TaskName":`. */
  readonly head: string;
  /** The `TaskName` value, a JSON string (`""` when the writer does not know the name). */
  readonly taskName: string;
  /** From after the name up to the `CreatedAt` value: `,"State":…,"CreatedAt":`. */
  readonly middle: string;
  /** The `CreatedAt` value, a JSON string (RFC 3339 with nanoseconds). */
  readonly createdAt: string;
  /** The rest: `,"TTL":…}`. */
  readonly tail: string;
}

/** Encodes a task state as Go's `TaskState` JSON, cut into {@link TaskStateParts}. */
export function encodeTaskStateParts(s: TaskState): TaskStateParts {
  return {
    head: `{"TaskUUID":${encodeString(s.taskUUID)},"TaskName":`,
    taskName: encodeString(s.taskName),
    middle: `,"State":"${s.state}","Results":${encodeResults(s.results)},"Error":${encodeString(s.error)},"CreatedAt":`,
    createdAt: `"${formatTime(s.createdAt)}"`,
    tail: `,"TTL":${encodeNumber(s.ttl)}}`,
  };
}

/** Encodes a task state as Go's `TaskState` JSON. */
export function encodeTaskState(s: TaskState): string {
  const p = encodeTaskStateParts(s);
  return p.head + p.taskName + p.middle + p.createdAt + p.tail;
}

/** Encodes group metadata as Go's `GroupMeta` JSON. */
export function encodeGroupMeta(g: GroupMeta): string {
  let uuids = '[';
  for (let i = 0; i < g.taskUUIDs.length; i++)
    uuids += (i > 0 ? ',' : '') + encodeString(g.taskUUIDs[i] as string);
  return (
    `{"GroupUUID":${encodeString(g.groupUUID)},"TaskUUIDs":${uuids}]` +
    `,"ChordTriggered":${g.chordTriggered},"Lock":${g.lock},"CreatedAt":"${formatTime(g.createdAt)}"` +
    `,"TTL":${encodeNumber(g.ttl)}}`
  );
}

// ---- decoding -------------------------------------------------------------------------------------

type Obj = { [key: string]: JsonValue };

function isObj(v: JsonValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new DecodeError(`${key} must be a string, got ${typeName(v)}`, path + key);
  return v;
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean')
    throw new DecodeError(`${key} must be a boolean, got ${typeName(v)}`, path + key);
  return v;
}

function count(o: Obj, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new DecodeError(
      `${key} must be an integer between 0 and ${max}, got ${typeName(v)} ${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`,
      path + key,
    );
  }
  return v;
}

function typeName(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'bigint') return 'a number';
  return `a ${typeof v}`;
}

function decodeArgList(v: JsonValue | undefined, path: string): Arg[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new DecodeError(`Args must be an array, got ${typeName(v)}`, path);
  return v.map((item, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(item)) throw new DecodeError(`each arg must be an object {Name, Type, Value}`, p);
    const type = item.Type;
    if (typeof type !== 'string' || type === '')
      throw new DecodeError('arg Type must be a non-empty string', `${p}.Type`);
    return { name: str(item, 'Name', `${p}.`), type, value: item.Value === undefined ? null : item.Value };
  });
}

function decodeResultList(v: JsonValue | undefined, path: string): TaskResult[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new DecodeError(`Results must be an array, got ${typeName(v)}`, path);
  return v.map((item, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(item) || typeof item.Type !== 'string')
      throw new DecodeError('each result must be {Type, Value}', p);
    return { type: item.Type, value: item.Value === undefined ? null : item.Value };
  });
}

function decodeSignatureList(v: JsonValue | undefined, path: string, depth: number): Signature[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new DecodeError(`must be an array of signatures, got ${typeName(v)}`, path);
  return v.map((item, i) => signatureFromJson(item, `${path}[${i}]`, depth + 1));
}

// Callbacks nest (chains are OnSuccess trees); a bound keeps a hostile message from exhausting the stack.
const MAX_SIGNATURE_DEPTH = 100;

/**
 * Builds a {@link Signature} from parsed JSON, validating every field. Missing fields get Go's zero
 * values (Go does the same); present fields of the wrong type are refused.
 * @throws DecodeError naming the offending field.
 */
export function signatureFromJson(v: JsonValue, path = '', depth = 0): Signature {
  if (depth > MAX_SIGNATURE_DEPTH)
    throw new DecodeError(`callbacks nested deeper than ${MAX_SIGNATURE_DEPTH}`, path);
  if (!isObj(v)) throw new DecodeError(`A signature must be a JSON object, got ${typeName(v)}`, path);
  const p = path === '' ? '' : `${path}.`;
  const uuid = str(v, 'UUID', p);
  if (uuid === '') throw new DecodeError('UUID is missing: every task message needs a UUID', `${p}UUID`);
  const name = str(v, 'Name', p);
  if (name === '') throw new DecodeError('Name is missing: every task message needs a task name', `${p}Name`);
  const eta = v.ETA;
  if (eta !== undefined && eta !== null && typeof eta !== 'string') {
    throw new DecodeError(`ETA must be an RFC 3339 string or null, got ${typeName(eta)}`, `${p}ETA`);
  }
  const headers = v.Headers;
  if (headers !== undefined && headers !== null && !isObj(headers)) {
    throw new DecodeError(`Headers must be an object or null, got ${typeName(headers)}`, `${p}Headers`);
  }
  const cb = v.ChordCallback;
  return {
    uuid,
    name,
    routingKey: str(v, 'RoutingKey', p),
    eta: typeof eta === 'string' ? parseTime(eta, `${p}ETA`) : null,
    groupUUID: str(v, 'GroupUUID', p),
    groupTaskCount: count(v, 'GroupTaskCount', p),
    args: decodeArgList(v.Args, `${p}Args`),
    headers: (headers ?? null) as Headers | null,
    priority: count(v, 'Priority', p, 255),
    immutable: bool(v, 'Immutable', p),
    retryCount: count(v, 'RetryCount', p),
    retryTimeout: count(v, 'RetryTimeout', p),
    onSuccess: decodeSignatureList(v.OnSuccess, `${p}OnSuccess`, depth),
    onError: decodeSignatureList(v.OnError, `${p}OnError`, depth),
    chordCallback:
      cb === undefined || cb === null ? null : signatureFromJson(cb, `${p}ChordCallback`, depth + 1),
    brokerMessageGroupId: str(v, 'BrokerMessageGroupId', p),
    sqsReceiptHandle: str(v, 'SQSReceiptHandle', p),
    stopTaskDeletionOnError: bool(v, 'StopTaskDeletionOnError', p),
    ignoreWhenTaskNotRegistered: bool(v, 'IgnoreWhenTaskNotRegistered', p),
  };
}

/** Options for decoding a message body. */
export interface DecodeOptions {
  /** Refuse bodies longer than this many bytes (UTF-8). */
  maxBytes?: number;
}

/**
 * Decodes a message body (Go Machinery's Signature JSON, from Go or from us).
 * @throws DecodeError on malformed JSON, a non-object body, missing UUID/Name, wrongly typed fields,
 * an invalid ETA, or a body over `maxBytes`.
 */
export function decodeSignature(body: string | Uint8Array, options: DecodeOptions = {}): Signature {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  if (options.maxBytes !== undefined) {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (size > options.maxBytes) {
      throw new DecodeError(`Message of ${size} bytes exceeds the maximum of ${options.maxBytes} bytes`);
    }
  }
  return signatureFromJson(parseJson(text));
}

/**
 * Decodes a stored TaskState.
 * @throws DecodeError when the value is not TaskState JSON.
 */
export function decodeTaskState(body: string): TaskState {
  const v = parseJson(body);
  if (!isObj(v)) throw new DecodeError(`A task state must be a JSON object, got ${typeName(v)}`);
  const state = v.State;
  if (!isTaskStatus(state))
    throw new DecodeError(`State ${JSON.stringify(state)} is not a task state`, 'State');
  const createdAt = v.CreatedAt;
  const ttl = v.TTL;
  return {
    taskUUID: str(v, 'TaskUUID', ''),
    taskName: str(v, 'TaskName', ''),
    state,
    results: decodeResultList(v.Results, 'Results'),
    error: str(v, 'Error', ''),
    createdAt:
      typeof createdAt === 'string' ? parseTime(createdAt, 'CreatedAt') : parseTime('0001-01-01T00:00:00Z'),
    ttl: typeof ttl === 'number' ? ttl : 0,
  };
}

const STATE_FIELD = '"State":"';

/**
 * The `State` of a stored TaskState without decoding its results, for reads of many states (is a group
 * complete?). Found by the `"State":"` pattern, which no JSON string value can contain (its quotes are
 * escaped); anything unexpected falls back to {@link decodeTaskState}.
 * @throws DecodeError as {@link decodeTaskState}, when the fallback cannot read `body`.
 */
export function decodeTaskStatus(body: string): TaskStatus {
  const at = body.indexOf(STATE_FIELD);
  if (at >= 0) {
    const start = at + STATE_FIELD.length;
    const status = body.slice(start, body.indexOf('"', start));
    if (isTaskStatus(status)) return status;
  }
  return decodeTaskState(body).state;
}

/**
 * Decodes stored GroupMeta.
 * @throws DecodeError when the value is not GroupMeta JSON.
 */
export function decodeGroupMeta(body: string): GroupMeta {
  const v = parseJson(body);
  if (!isObj(v)) throw new DecodeError(`Group metadata must be a JSON object, got ${typeName(v)}`);
  const uuids = v.TaskUUIDs;
  if (
    uuids !== null &&
    uuids !== undefined &&
    (!Array.isArray(uuids) || !uuids.every((u) => typeof u === 'string'))
  ) {
    throw new DecodeError('TaskUUIDs must be an array of strings', 'TaskUUIDs');
  }
  const createdAt = v.CreatedAt;
  const ttl = v.TTL;
  return {
    groupUUID: str(v, 'GroupUUID', ''),
    taskUUIDs: (uuids ?? []) as string[],
    chordTriggered: bool(v, 'ChordTriggered', ''),
    lock: bool(v, 'Lock', ''),
    createdAt:
      typeof createdAt === 'string' ? parseTime(createdAt, 'CreatedAt') : parseTime('0001-01-01T00:00:00Z'),
    ttl: typeof ttl === 'number' ? ttl : 0,
  };
}

/** Default maximum size of an encoded task message: 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * How task messages are written: `compact` omits Go zero values (smaller, still read by Go Machinery
 * as the same message); `go` is the full form byte for byte as Go writes it.
 */
export type WireFormat = 'compact' | 'go';

/**
 * Prepares a signature for publishing as every broker does: an empty routing key becomes
 * `defaultQueue` (written into the body, as Go does), then the body is encoded (compact by default)
 * and its size checked.
 * @throws MachineryError `ERR_PAYLOAD_TOO_LARGE` when the body exceeds `maxBytes`.
 */
export function encodeForPublish(
  sig: Signature,
  defaultQueue: string,
  maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
  format: WireFormat = 'compact',
): { queue: string; body: string } {
  if (sig.routingKey === '') sig.routingKey = defaultQueue;
  const body = format === 'go' ? encodeSignature(sig) : encodeSignatureCompact(sig);
  // Length in UTF-16 units is a lower bound of UTF-8 bytes; count bytes only near the limit.
  if (body.length * 3 > maxBytes) {
    const size = Buffer.byteLength(body);
    if (size > maxBytes) {
      throw new MachineryError(
        'ERR_PAYLOAD_TOO_LARGE',
        `Task "${sig.name}" (${sig.uuid}) encodes to ${size} bytes, over the broker's maximum of ${maxBytes}. ` +
          'Store large data elsewhere and pass a reference, or raise maxMessageBytes.',
      );
    }
  }
  return { queue: sig.routingKey, body };
}
