export type { RedisBackendOptions, RedisConnectionOptions, RedisLockOptions } from './options.js';
export { RedisBackend } from './redis-backend.js';
export type { RedisControlPlaneOptions } from './redis-control-plane.js';
export { RedisControlPlane } from './redis-control-plane.js';
export { RedisLock } from './redis-lock.js';
