import {
  type ControlPlane,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryControlPlane,
  MemoryControlPlaneStore,
} from '@machinery/core';
import { controlScenarioSuite, PerNamespace } from '../src/index.js';

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

const planes = new PerNamespace(() => new MemoryControlPlaneStore());
const brokers = new PerNamespace(() => new MemoryBrokerStore());

controlScenarioSuite({
  name: 'a control plane announcing 250 ms late',
  create: ({ namespace }) => lateControlPlane(planes.get(namespace)),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: brokers.get(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    planes.delete(namespace);
  },
});
