export type { Connection } from './connect.js';
export { connect } from './connect.js';
export { defaultBackendUrl, defaultControlUrl, defaultLockUrl } from './default-urls.js';
export { connectFromEnv, optionsFromEnv } from './from-env.js';
export type { AmqpExchangeOptions, AmqpExchangeType, ConnectOptions } from './options.js';
export type { Role } from './schemes.js';
export { isSupported, SUPPORTED_SCHEMES } from './schemes.js';
