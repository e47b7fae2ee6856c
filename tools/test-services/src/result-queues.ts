import { deleteQueues } from './amqp.js';

/** Result queues are named after task and group UUIDs, not after the test: note every one a test touches. */
function record(names: Set<string>, value: unknown): void {
  if (typeof value === 'string') {
    if (/^(task|group|chord)_/.test(value)) names.add(value);
    if (value.startsWith('group_')) names.add(`${value}_meta`).add(`${value}_chord_triggered`);
    return;
  }
  if (value && typeof value === 'object' && 'uuid' in value) {
    const sig = value as { uuid: unknown; groupUUID?: unknown };
    record(names, sig.uuid);
    record(names, sig.groupUUID);
  }
}

/**
 * `target` (an AMQP result backend), noting in `names` every result queue its calls touch — the
 * queues are named after task and group UUIDs, not after the test — so the test can delete them.
 */
export function trackResultQueues<T extends object>(target: T, names: Set<string>): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        for (const a of args) {
          if (Array.isArray(a)) for (const x of a) record(names, x);
          else record(names, a);
        }
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/** Per-namespace sets of result queue names, for {@link trackResultQueues}. */
export class ResultQueues {
  private readonly byNamespace = new Map<string, Set<string>>();

  /** The set of `namespace`. */
  of(namespace: string): Set<string> {
    let set = this.byNamespace.get(namespace);
    if (!set) {
      set = new Set();
      this.byNamespace.set(namespace, set);
    }
    return set;
  }

  /** Deletes the queues noted for `namespace`. */
  async delete(namespace: string): Promise<void> {
    await deleteQueues(this.of(namespace));
    this.forget(namespace);
  }

  /** Drops the names noted for `namespace`. */
  forget(namespace: string): void {
    this.byNamespace.delete(namespace);
  }
}
