/**
 * A string-keyed map kept in a dictionary object rather than a `Map`: for a long-lived map that gains
 * and loses an entry per task, in an adapter's or the worker's hot path.
 *
 * V8 links a rehashed or cleared `Map` (or `Set`) table to the table that replaces it. Once one table
 * of a long-lived `Map` has reached old space, every later table and every entry they held stay
 * reachable for the young generation's collector, however long ago they were deleted: all of it is
 * promoted, old space fills with garbage, full collections follow, and the fresh heap pages cost page
 * faults. In the Redis worker this was a fifth of the CPU per task with results stored. A dictionary's
 * storage links to nothing when it is replaced. Iteration order is not promised.
 *
 * @example
 * ```ts
 * const inFlight = new Dictionary<Promise<void>>();
 * inFlight.set(taskUUID, write);
 * inFlight.delete(taskUUID);
 * ```
 */
export class Dictionary<V> {
  private entries: Record<string, V> = Object.create(null);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.entries[key];
  }

  has(key: string): boolean {
    return this.entries[key] !== undefined;
  }

  /** Sets `key` to `value` (never `undefined`). */
  set(key: string, value: V): void {
    if (this.entries[key] === undefined) this.count++;
    this.entries[key] = value;
  }

  /** Removes `key`; `false` when it was not there. */
  delete(key: string): boolean {
    if (this.entries[key] === undefined) return false;
    delete this.entries[key];
    // Start afresh when empty: the emptied dictionary would otherwise keep its grown storage.
    if (--this.count === 0) this.entries = Object.create(null);
    return true;
  }

  keys(): string[] {
    return Object.keys(this.entries);
  }

  values(): V[] {
    return Object.values(this.entries);
  }

  keyValues(): [string, V][] {
    return Object.entries(this.entries);
  }

  clear(): void {
    this.entries = Object.create(null);
    this.count = 0;
  }
}
