// Broken memory brokers, one per at-least-once bug the conformance suites must catch. Each is a
// subclass (or a patched copy at runtime) of core's MemoryBroker / MemoryBrokerStore: production code
// has no mutation switch. The members used here are TypeScript-private or @internal, which JavaScript
// can reach; they change with memory-broker.ts, whose tests this script belongs to.
import { decodeSignature, MemoryBroker, MemoryBrokerStore } from '@machinery/core';

/** Lets other promise callbacks run between a check and an act, as a network round trip would. */
const roundTrip = () => new Promise((resolve) => setImmediate(resolve));

/** Wraps every delivery `broker` hands to `onDelivery` with `wrap(delivery, envelope)`. */
function wrappingConsume(wrap) {
  return class extends MemoryBroker {
    consume(queue, onDelivery, options) {
      return super.consume(
        queue,
        (d) => onDelivery(wrap.call(this, d, this.store.leases.get(d.token)?.envelope)),
        options,
      );
    }
  };
}

/** Takes the lease of `envelope` whoever holds it, as an ack by message id (not by token) does. */
function takeAnyLease(store, envelope) {
  for (const [token, lease] of store.leases) {
    if (lease.envelope !== envelope) continue;
    store.leases.delete(token);
    lease.consumer.outstanding--;
    queueMicrotask(() => store.pump(lease.consumer.queue));
    return true;
  }
  return false;
}

/** The mutants by name (see catalog.mjs for what each breaks): the broker and store classes that break it. */
export const mutants = {
  'a-no-lease-renewal': {
    Store: class extends MemoryBrokerStore {
      renew() {}
    },
  },
  'b-racy-claim': {
    Store: class extends MemoryBrokerStore {
      pump(queue) {
        const q = this.queues.get(queue);
        const consumers = this.consumers.get(queue);
        if (!q || !consumers) return;
        for (;;) {
          const free = consumers.filter((c) => c.active && c.outstanding < c.capacity);
          const head = q[0];
          if (!head || free.length === 0) return;
          // Every free consumer on another connection reads the same head before one removes it.
          const readers = [free[0]];
          const other = free.find((c) => c.owner !== free[0].owner);
          if (other) readers.push(other);
          q.shift();
          for (const c of readers) this.deliver(c, head);
        }
      }
    },
  },
  'c-ack-ignores-token': {
    Broker: wrappingConsume(function (d, envelope) {
      const store = this.store;
      const byMessage = async (settle) => (await settle()) || takeAnyLease(store, envelope);
      return {
        ...d,
        ack: () => byMessage(() => d.ack()),
        nack: (options) => byMessage(() => d.nack(options)),
      };
    }),
  },
  'd-settles-twice': {
    Broker: wrappingConsume(function (d, envelope) {
      const store = this.store;
      const held = () => store.leases.has(d.token) && !this.isClosed;
      return {
        ...d,
        ack: async () => {
          if (!held()) return false;
          await roundTrip();
          await d.ack();
          return true;
        },
        nack: async (options = {}) => {
          if (!held()) return false;
          await roundTrip();
          // The lease was checked already: requeue even if another call settled it meanwhile.
          if (!(await d.nack(options)) && options.requeue !== false) {
            store.enqueue(
              { body: envelope.body, queue: envelope.queue, deliveries: envelope.deliveries },
              true,
            );
          }
          return true;
        },
      };
    }),
  },
  'e-close-leaves-consumers': {
    Broker: class extends MemoryBroker {
      async close() {
        const mine = [...this.store.consumers].map(([queue, list]) => [
          queue,
          list.filter((c) => c.owner === this),
        ]);
        await super.close();
        for (const [queue, list] of mine) this.store.consumers.get(queue)?.push(...list);
      }
    },
  },
  'f-pending-lists-leased': {
    Broker: class extends MemoryBroker {
      async pendingTasks(queue = this.defaultQueue, limit) {
        const leased = [...this.store.leases.values()].filter((l) => l.envelope.queue === queue);
        const waiting = await super.pendingTasks(queue);
        const all = [...leased.map((l) => decodeSignature(l.envelope.body)), ...waiting];
        return limit === undefined ? all : all.slice(0, limit);
      }
    },
  },
  'g-delivers-after-stop': {
    Broker: class extends MemoryBroker {
      consume(queue, onDelivery, options) {
        // The hand-over is a later step (a fetch in flight); stop() does not wait for it.
        return super.consume(queue, (d) => setTimeout(() => onDelivery(d), 2), options);
      }
    },
  },
  'h-purge-takes-held': {
    Broker: class extends MemoryBroker {
      async purge(queue, options) {
        const counts = await super.purge(queue, options);
        if (!options.pending) return counts;
        // Counts a held task as waiting and drops its lease: the task is lost once purged.
        let taken = 0;
        for (const [token, lease] of this.store.leases) {
          if (lease.envelope.queue !== queue) continue;
          this.store.leases.delete(token);
          lease.consumer.outstanding--;
          taken++;
        }
        return { ...counts, pending: counts.pending + taken };
      }
    },
  },
};
