import { invalidArgument, MachineryError } from './errors.js';
import type { JsonValue } from './json.js';

/** Go type names Machinery converts arguments and results to (reference §3.6). */
export type GoScalarType =
  | 'bool'
  | 'int'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float32'
  | 'float64'
  | 'string';

/** Slice types a Go worker accepts; `[]byte` is `[]uint8` and travels as base64. */
export type GoSliceType = `[]${GoScalarType}` | '[]byte';

/**
 * The type name for any JSON value (objects, nested arrays, null). A TypeScript-only extension:
 * Go Machinery workers reject it ("json is not one of supported types"), so use it only in fleets
 * where every worker that may receive the task is a TypeScript worker.
 */
export const JSON_TYPE = 'json';

/** Every type name an argument or result may carry. */
export type ArgType = GoScalarType | GoSliceType | typeof JSON_TYPE;

/**
 * One positional argument as it travels: `{Name, Type, Value}` on the wire. `value` is the JSON value
 * exactly as it will be written (a base64 string for `[]byte`, a `bigint` for integers beyond 2^53).
 */
export interface Arg {
  name: string;
  type: string;
  value: JsonValue;
}

/** One task result as stored in a TaskState: `{Type, Value}` on the wire. */
export interface TaskResult {
  type: string;
  value: JsonValue;
}

/** A JavaScript value a task can receive as an argument or return as a result. */
export type ArgInput =
  | number
  | bigint
  | string
  | boolean
  | Uint8Array
  | readonly number[]
  | readonly bigint[]
  | readonly string[]
  | readonly boolean[]
  | TypedArg<unknown>
  | JsonValue;

/**
 * An argument with an explicit Go type, overriding inference. Create it with {@link arg}.
 * `T` is the JavaScript type the task receives.
 */
export class TypedArg<T> {
  /** @internal phantom type of the value the task receives */
  declare readonly __value?: T;

  constructor(
    readonly type: ArgType,
    readonly value: unknown,
    readonly name = '',
  ) {}
}

/**
 * Gives an argument an explicit Go type instead of the inferred one.
 *
 * @example
 * ```ts
 * await server.send(resize.signature(arg('uint32', 640), arg('float64', 1)))
 * ```
 */
export function arg<
  T extends number | bigint | string | boolean | Uint8Array | readonly unknown[] | JsonValue,
>(type: ArgType, value: T, name = ''): TypedArg<T> {
  return new TypedArg<T>(type, value, name);
}

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int: [-(2n ** 63n), 2n ** 63n - 1n],
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint: [0n, 2n ** 64n - 1n],
  uint8: [0n, 255n],
  uint16: [0n, 65535n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const SCALARS = new Set<string>([...Object.keys(INT_RANGES), 'bool', 'string', 'float32', 'float64']);

/** True when `type` is a type name this package can convert. */
export function isSupportedType(type: string): type is ArgType {
  if (type === JSON_TYPE || type === '[]byte') return true;
  return SCALARS.has(type.startsWith('[]') ? type.slice(2) : type);
}

/**
 * A whole number Go can read as `int64`. Whole numbers from 2^63 up (e.g. `1e21`) are written in
 * exponent form by JSON (`1e+21`), which Go refuses for an integer type: they go as `float64`.
 */
function isInt64Number(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63;
}

function inferArrayType(values: readonly unknown[]): ArgType {
  if (values.length === 0) return JSON_TYPE;
  const first = values[0];
  if (typeof first === 'string' && values.every((v) => typeof v === 'string')) return '[]string';
  if (typeof first === 'boolean' && values.every((v) => typeof v === 'boolean')) return '[]bool';
  if (values.every((v) => typeof v === 'bigint' || isInt64Number(v))) return '[]int64';
  if (values.every((v) => typeof v === 'number' || typeof v === 'bigint')) return '[]float64';
  return JSON_TYPE;
}

/**
 * The Go type inferred for a JavaScript value: integral `number` within int64 → `int64`, other `number`
 * (fractions, and whole numbers beyond int64 such as `1e21`) → `float64`,
 * `bigint` → `int64` (`uint64` above the int64 range), `string`, `boolean`, `Uint8Array` → `[]byte`,
 * homogeneous arrays → `[]int64`/`[]float64`/`[]string`/`[]bool`, anything else → `json`.
 */
export function inferType(value: unknown): ArgType {
  switch (typeof value) {
    case 'number':
      return isInt64Number(value) ? 'int64' : 'float64';
    case 'bigint':
      return value > 2n ** 63n - 1n ? 'uint64' : 'int64';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    default:
      if (value instanceof Uint8Array) return '[]byte';
      if (Array.isArray(value)) return inferArrayType(value);
      return JSON_TYPE;
  }
}

function toWireValue(type: string, value: unknown): JsonValue {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value === undefined) {
    throw invalidArgument(`An argument of type ${type} is undefined; use null or omit the argument.`);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw invalidArgument(`Argument value ${value} cannot be sent: Go Machinery has no NaN or Infinity.`);
  }
  return value as JsonValue;
}

/** Turns a JavaScript value (or a {@link TypedArg}) into a wire {@link Arg}. */
export function toArg(value: unknown): Arg {
  if (value instanceof TypedArg) {
    return { name: value.name, type: value.type, value: toWireValue(value.type, value.value) };
  }
  const type = inferType(value);
  return { name: '', type, value: toWireValue(type, value) };
}

/** Turns a task's return value into a stored {@link TaskResult}. */
export function toResult(value: unknown): TaskResult {
  const { type, value: v } = toArg(value);
  return { type, value: v };
}

function fail(value: unknown, type: string): never {
  let shown: string;
  try {
    shown = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  } catch {
    shown = String(value);
  }
  throw new MachineryError('ERR_INVALID_ARGUMENT', `${shown} is not ${type}`);
}

function convertInt(value: JsonValue, type: string): number | bigint {
  const range = INT_RANGES[type] as readonly [bigint, bigint];
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isInteger(value)) {
    if (Number.isSafeInteger(value)) {
      if (value < range[0] || value > range[1]) fail(value, type);
      return value;
    }
    big = BigInt(value);
  } else return fail(value, type);
  if (big < range[0] || big > range[1]) fail(value, type);
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big;
}

function convertScalar(value: JsonValue, type: string): unknown {
  switch (type) {
    case 'bool':
      return typeof value === 'boolean' ? value : fail(value, type);
    case 'string':
      return typeof value === 'string' ? value : fail(value, type);
    case 'float32':
    case 'float64':
      if (typeof value === 'number') return type === 'float32' ? Math.fround(value) : value;
      if (typeof value === 'bigint') return Number(value);
      return fail(value, type);
    default:
      if (type in INT_RANGES) return convertInt(value, type);
      throw new MachineryError('ERR_INVALID_ARGUMENT', `${type} is not one of supported types`);
  }
}

/**
 * Converts a wire value of the given Go type to the JavaScript value a task receives, with Go's rules:
 * integers must be JSON integers (not strings, not `1.0`) within the type's range; `int64`/`uint64`
 * beyond 2^53 become `bigint`; `null` slices become `[]`; `[]byte`/`[]uint8` become a `Uint8Array`
 * from base64 or an array of bytes.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` with Go's message shape ("x is not int64").
 */
export function fromWire(type: string, value: JsonValue): unknown {
  if (type === JSON_TYPE) return value;
  if (type.startsWith('[]')) {
    const elem = type === '[]byte' ? 'uint8' : type.slice(2);
    if (elem === 'uint8' && typeof value === 'string') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) fail(value, type);
      return new Uint8Array(Buffer.from(value, 'base64'));
    }
    if (value === null) return elem === 'uint8' ? new Uint8Array(0) : [];
    if (!Array.isArray(value)) return fail(value, type);
    if (!SCALARS.has(elem))
      throw new MachineryError('ERR_INVALID_ARGUMENT', `${type} is not one of supported types`);
    const items = value.map((v) => convertScalar(v, elem));
    return elem === 'uint8' ? new Uint8Array(items as number[]) : items;
  }
  return convertScalar(value, type);
}

/** Converts a wire {@link Arg} to the value a task receives; see {@link fromWire}. */
export function argValue(a: Arg): unknown {
  return fromWire(a.type, a.value);
}
