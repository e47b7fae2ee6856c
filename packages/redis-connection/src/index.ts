export { ACK_CARRIER, type CarriedAck, carriedAck, sameRedisServer } from './ack-carrier.js';
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
export {
  type Carried,
  type CarriedStep,
  JointScript,
  type ScriptStep,
  type StepCarrier,
} from './joint-script.js';
export { LuaScript } from './lua-script.js';
export {
  PUBLICATION_CARRIER,
  type PublicationCarrier,
  publicationCarrier,
} from './publication-carrier.js';
