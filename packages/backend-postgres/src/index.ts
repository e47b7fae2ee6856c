export type { PostgresBackendOptions } from './options.js';
export { PostgresBackend } from './postgres-backend.js';
