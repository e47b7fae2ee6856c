export type { PostgresBrokerOptions } from './options.js';
export { DEFAULT_LEASE_MS } from './options.js';
export { PostgresBroker } from './postgres-broker.js';
