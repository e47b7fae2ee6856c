/**
 * A count read through a listing capped at `limit`: `complete` is false when the listing hit the
 * cap, so the true number is at least `count`.
 */
export interface Count {
  readonly count: number;
  readonly complete: boolean;
}

/** A {@link Count} from the number of matching items in a listing of `listed` items capped at `limit`. */
export function countOf(matching: number, listed: number, limit: number): Count {
  return { count: matching, complete: listed < limit };
}

/** `3`, `1000+` (capped), or `n/a` (the broker cannot list it). */
export function showCount(c: Count | null): string {
  if (c === null) return 'n/a';
  return c.complete ? String(c.count) : `${c.count}+`;
}
