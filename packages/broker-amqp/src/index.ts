export { AmqpBroker } from './amqp-broker.js';
export type { AmqpBrokerOptions, ExchangeType, ReconnectOptions } from './options.js';
