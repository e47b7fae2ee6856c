// brokerSuite and scenarioSuite against core's memory broker, broken in the way named by MUTANT (see
// mutants.mjs), or unbroken without it. run.mjs runs this file once per mutant and expects it to fail
// for every mutant and to pass for the unbroken broker.
import {
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryLock,
  MemoryLockStore,
} from '@machinery/core';
import { brokerSuite, scenarioSuite } from '@machinery/testing';
import { catalog } from './catalog.mjs';
import { mutants } from './mutants.mjs';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by run.mjs for its own vitest runs, never under turbo.
const name = process.env.MUTANT ?? '';
const mutant = name === '' ? {} : mutants[name];
if (name !== '' && !(name in catalog)) throw new Error(`MUTANT "${name}" is missing from catalog.mjs.`);
if (!mutant) throw new Error(`Unknown MUTANT "${name}"; known: ${Object.keys(mutants).join(', ')}.`);
const Broker = mutant.Broker ?? MemoryBroker;
const Store = mutant.Store ?? MemoryBrokerStore;

// One in-process "server" per test namespace, so two brokers made in one test share queues as two
// connections would.
const stores = new Map();
function shared(kind, namespace, make) {
  const key = `${kind}:${namespace}`;
  if (!stores.has(key)) stores.set(key, make());
  return stores.get(key);
}
const brokerStore = (namespace) => shared('broker', namespace, () => new Store());
const cleanup = async ({ namespace }) => {
  stores.get(`broker:${namespace}`)?.dispose();
  for (const kind of ['broker', 'backend', 'lock']) stores.delete(`${kind}:${namespace}`);
};
const injectRaw = async ({ namespace }, queue, body) => brokerStore(namespace).injectRaw(queue, body);
const broker = ({ namespace, redeliveryTimeoutMs }) =>
  new Broker({ store: brokerStore(namespace), leaseMs: redeliveryTimeoutMs });

brokerSuite({
  name: `MemoryBroker ${name || '(unbroken)'}`,
  create: broker,
  injectRaw,
  cleanup,
});

scenarioSuite({
  name: `MemoryBroker ${name || '(unbroken)'} + MemoryBackend`,
  create: (ctx) => ({
    broker: broker(ctx),
    backend: new MemoryBackend({ store: shared('backend', ctx.namespace, () => new MemoryBackendStore()) }),
    lock: new MemoryLock({ store: shared('lock', ctx.namespace, () => new MemoryLockStore()) }),
  }),
  injectRaw,
  cleanup,
});
