// The conformance test of a broker package, as `test/conformance.test.ts`: brokerSuite for the broker,
// scenarioSuite for it under a real Server and Worker. It runs here against core's memory adapters;
// for your broker, change makeBroker (and cleanup, injectRaw) to reach your real server.
import { MemoryBackend, MemoryBackendStore, MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { type AdapterContext, brokerSuite, PerNamespace, scenarioSuite } from '@machinery/testing';

// Every call within one test gets the same namespace, and the adapters made in one test are several
// processes of one deployment (a producer and a worker; a worker that dies and the one that takes
// over): they must reach the same queues and the same results. A network adapter gets that by
// connecting to the same server with the namespace as its queue or key prefix; in-process adapters
// by sharing one store per namespace (PerNamespace makes it on first use).
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const backends = new PerNamespace(() => new MemoryBackendStore());

function makeBroker({ namespace, redeliveryTimeoutMs }: AdapterContext): MemoryBroker {
  // The suites ask for a short redelivery timeout: use it as the lease / visibility timeout.
  return new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs });
}

function makeBackend({ namespace }: AdapterContext): MemoryBackend {
  // One backend store per namespace, not per process: a producer reads the results its worker stored.
  return new MemoryBackend({ store: backends.get(namespace) });
}

// Puts raw bytes on a queue, bypassing the codec, for the bad-input tests (without it they are
// skipped, with that reason). For a network broker: push `body` with the service's own client.
async function injectRaw({ namespace }: AdapterContext, queue: string, body: string): Promise<void> {
  brokers.get(namespace).injectRaw(queue, body);
}

// Runs after the test's adapters are closed: delete what the test left (its queues, its keys).
async function cleanup({ namespace }: AdapterContext): Promise<void> {
  brokers.delete(namespace)?.dispose();
  backends.delete(namespace);
}

brokerSuite({ name: 'MemoryBroker', create: makeBroker, injectRaw, cleanup });

scenarioSuite({
  name: 'MemoryBroker + MemoryBackend',
  create: (ctx) => ({ broker: makeBroker(ctx), backend: makeBackend(ctx) }),
  injectRaw,
  cleanup,
});
