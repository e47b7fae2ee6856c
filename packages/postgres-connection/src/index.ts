export { createTables } from './create-tables.js';
export { describePostgresError, postgresError } from './postgres-errors.js';
export type { PostgresListenerOptions } from './postgres-listener.js';
export { PostgresListener } from './postgres-listener.js';
export type { PostgresPool, PostgresPoolOptions } from './postgres-pool.js';
export { openPostgresPool } from './postgres-pool.js';
export type { PostgresTable } from './postgres-table.js';
export { checkPostgresName, postgresTable } from './postgres-table.js';
