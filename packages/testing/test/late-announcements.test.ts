import {
  type ControlPlane,
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryControlPlane,
  MemoryControlPlaneStore,
} from '@machinery/core';
import { controlScenarioSuite } from '../src/index.js';

// Control planes that poll (PostgreSQL, memcached) announce revocations and pauses up to a few hundred
// ms late; the scenarios must hold on them too. This one tells its listeners 250 ms after the fact.
const LATE_MS = 250;
const late =
  <A extends unknown[]>(listener: (...args: A) => void) =>
  (...args: A): void => {
    setTimeout(() => listener(...args), LATE_MS).unref();
  };

function lateControlPlane(store: MemoryControlPlaneStore): ControlPlane {
  const plane = new MemoryControlPlane({ store });
  return {
    revocations: {
      revoke: (uuids, options) => plane.revocations.revoke(uuids, options),
      revoked: (uuids) => plane.revocations.revoked(uuids),
      onRevoke: (listener) => plane.revocations.onRevoke(late(listener)),
    },
    pauses: {
      pause: (queue) => plane.pauses.pause(queue),
      resume: (queue) => plane.pauses.resume(queue),
      isPaused: (queue) => plane.pauses.isPaused(queue),
      paused: () => plane.pauses.paused(),
      onChange: (listener) => plane.pauses.onChange(late(listener)),
    },
    workers: plane.workers,
    events: {
      publish: (events) => plane.events.publish(events),
      subscribe: (listener) => plane.events.subscribe(late(listener)),
    },
    progress: plane.progress,
    close: () => plane.close(),
  };
}

const planes = new Map<string, MemoryControlPlaneStore>();
const brokers = new Map<string, MemoryBrokerStore>();
const backends = new Map<string, MemoryBackendStore>();
function shared<T>(map: Map<string, T>, ns: string, make: () => T): T {
  let v = map.get(ns);
  if (!v) {
    v = make();
    map.set(ns, v);
  }
  return v;
}

controlScenarioSuite({
  name: 'a control plane announcing 250 ms late',
  create: ({ namespace }) => lateControlPlane(shared(planes, namespace, () => new MemoryControlPlaneStore())),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: shared(brokers, namespace, () => new MemoryBrokerStore()),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: shared(backends, namespace, () => new MemoryBackendStore()) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.get(namespace)?.dispose();
    for (const map of [planes, brokers, backends]) map.delete(namespace);
  },
});
