export type { RedisBackendOptions, RedisConnectionOptions, RedisLockOptions } from './options.js';
export { RedisBackend } from './redis-backend.js';
export { RedisLock } from './redis-lock.js';
