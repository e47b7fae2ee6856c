export type {
  RedisBackendOptions,
  RedisConnectionOptions,
  RedisFlowControlOptions,
  RedisLockOptions,
} from './options.js';
export { RedisBackend } from './redis-backend.js';
export type { RedisControlPlaneOptions } from './redis-control-plane.js';
export { RedisControlPlane } from './redis-control-plane.js';
export { RedisFlowControl } from './redis-flow-control.js';
export { RedisLock } from './redis-lock.js';
