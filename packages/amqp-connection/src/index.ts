export { isNacked, isNotFound, replyCode } from './amqp-errors.js';
export { resolveAmqpUrls } from './amqp-urls.js';
export type { ConnectionManagerOptions, Link } from './connection-manager.js';
export { ConnectionManager } from './connection-manager.js';
export { positiveMs, type ReconnectOptions, resolveReconnect } from './reconnect-options.js';
export { refusalError } from './refusal.js';
