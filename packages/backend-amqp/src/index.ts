export { AmqpBackend } from './amqp-backend.js';
// Shared with @machinery/broker-amqp, which keeps its connection the same way.
export { resolveAmqpUrls } from './amqp-urls.js';
export type { ConnectionManagerOptions, Link } from './connection.js';
export { ConnectionManager } from './connection.js';
export type { AmqpBackendOptions, ReconnectOptions } from './options.js';
