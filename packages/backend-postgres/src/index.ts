export type { PostgresBackendOptions, PostgresControlPlaneOptions } from './options.js';
export { PostgresBackend } from './postgres-backend.js';
export { PostgresControlPlane } from './postgres-control-plane.js';
