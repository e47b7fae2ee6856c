export type { RedisBrokerOptions } from './options.js';
export { DEFAULT_LEASE_MS } from './options.js';
export { RedisBroker } from './redis-broker.js';
