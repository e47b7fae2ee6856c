/**
 * JSON text for anything the dashboard sends: `bigint` (int64 beyond 2^53) as its decimal digits so
 * no precision is lost, `Uint8Array` as base64. `undefined` becomes `null`.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, replacer, indent) ?? 'null';
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/** A value for a person: strings as they are, anything else as JSON, cut to `max` characters. */
export function showValue(value: unknown, max = 2000): string {
  const text = typeof value === 'string' ? value : toJson(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
