export {
  AMQP_URL,
  adminConnection,
  closeAdmin,
  closeConnectionsNamed,
  connectionsNamed,
  deleteQueues,
} from './amqp.js';
export type { TestCertificates } from './certificates.js';
export { makeCertificates } from './certificates.js';
export { expectConnectionErrors, rejectionOf, thrownBy } from './failures.js';
export { freePort } from './ports.js';
export type { PostgresTestSchema, TaskTableOwner } from './postgres.js';
export {
  dropAllPostgresConnections,
  dropSchema,
  injectRawTask,
  POSTGRES_URL,
  rawPostgresPool,
  schemaOf,
  schemaPerTest,
} from './postgres.js';
export { PrivateCluster } from './private-cluster.js';
export { PrivateRedis } from './private-redis.js';
export { killProcess } from './processes.js';
export type { LogLine, RecordingLogger } from './recording-logger.js';
export { reconnectAttempts, recordingLogger } from './recording-logger.js';
export { deleteKeys, prefixOf, REDIS_URL, rawClient } from './redis.js';
export type { RedisPasswordForm } from './redis-password-forms.js';
export { REDIS_PASSWORD_FORMS } from './redis-password-forms.js';
export { expectVerifiedTls } from './redis-tls.js';
export { ResultQueues, trackResultQueues } from './result-queues.js';
export { expectNoSecret, expectUnparsableUrlsRedacted, exposedText, SECRET } from './secrets.js';
export type { SecuredRedisOptions } from './secured-redis.js';
export { SecuredRedis } from './secured-redis.js';
export { TcpProxy } from './tcp-proxy.js';
export type { Handshake } from './tls-proxy.js';
export { TlsProxy } from './tls-proxy.js';
export { type PrivateRedisForFile, usePrivateRedis } from './use-private-redis.js';
