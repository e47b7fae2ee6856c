import { Dictionary } from './dictionary.js';

/**
 * Runs async operations one after another per key, in call order, while different keys run
 * concurrently. Backends use it to honour the `Backend` contract that one task's state writes apply
 * in call order even when the Worker does not await each before issuing the next.
 */
export class SequentialByKey {
  /** Not a `Map`: one entry comes and goes per write (see {@link Dictionary}). */
  private readonly tails = new Dictionary<Promise<unknown>>();

  /** Runs `operation` once every earlier operation for `key` has settled; resolves or rejects with it. */
  run<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(operation, operation);
    // A failed operation must not fail the ones queued behind it.
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with operations in flight (for tests and diagnostics). */
  get size(): number {
    return this.tails.size;
  }
}
