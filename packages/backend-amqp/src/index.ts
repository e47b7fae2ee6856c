export { AmqpBackend } from './amqp-backend.js';
export type { AmqpBackendOptions, ReconnectOptions } from './options.js';
