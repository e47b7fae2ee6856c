// The type of the `reconnect` option, defined with the connection it tunes.
export type { ReconnectOptions } from '@machinery/amqp-connection';
export { AmqpBroker } from './amqp-broker.js';
export type { AmqpBrokerOptions, ExchangeType, QueueType } from './options.js';
