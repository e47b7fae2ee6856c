// The type of the `reconnect` option, defined with the connection it tunes.
export type { ReconnectOptions } from '@machinery/amqp-connection';
export { AmqpBackend } from './amqp-backend.js';
export { AmqpControlPlane } from './amqp-control-plane.js';
export type { AmqpControlPlaneOptions } from './control-options.js';
export type { AmqpBackendOptions } from './options.js';
