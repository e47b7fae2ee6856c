// Connection plumbing shared with @machinery/broker-redis (same client defaults, same error messages).
export {
  connectionError as redisConnectionError,
  createClient as createRedisClient,
  DEFAULT_REDIS_URL,
  describeClient as describeRedisClient,
  dropConnection as dropRedisConnection,
  hasHashTag,
  redactRedisError,
  trackConnectionErrors as trackRedisConnectionErrors,
} from './connection.js';
export { LuaScript } from './lua-script.js';
export type { RedisBackendOptions, RedisConnectionOptions, RedisLockOptions } from './options.js';
export { RedisBackend } from './redis-backend.js';
export { RedisLock } from './redis-lock.js';
