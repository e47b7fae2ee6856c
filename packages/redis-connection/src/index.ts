export {
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  dropRedisConnection,
  redisReconnectDelay,
} from './client.js';
export { redactRedisError, redisConnectionError, trackRedisConnectionErrors } from './connection-errors.js';
export { hasHashTag } from './hash-tag.js';
export { LuaScript } from './lua-script.js';
