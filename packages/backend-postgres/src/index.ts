export type { PostgresBackendOptions } from './options.js';
export { PostgresBackend } from './postgres-backend.js';
export type { PostgresControlPlaneOptions } from './postgres-control-plane.js';
export { PostgresControlPlane } from './postgres-control-plane.js';
