/**
 * `value` as JSON text that a `jsonb` column accepts: PostgreSQL refuses the NUL character in `jsonb`
 * strings, so each one becomes U+FFFD rather than failing the whole write (a task's error message may
 * hold one).
 */
export function jsonbText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v,
  );
}
