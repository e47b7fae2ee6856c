import pg from 'pg';
import { PostgresBroker } from '../src/index.js';

/** The test database: `node scripts/services.mjs up postgres` creates the role and database. */
export const POSTGRES_URL =
  process.env.POSTGRES_URL ?? 'postgres://machinery:machinery@127.0.0.1:5432/machinery_test';

/** A pool for the tests' own SQL (injecting rows, dropping schemas). */
export function rawPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  // The restart scenario drops every connection of the test role, these idle ones included.
  pool.on('error', () => {});
  return pool;
}

/** Each test works in a schema of its own, named by its namespace. */
export function schemaOf(namespace: string): string {
  return `t_${namespace}`;
}

/** Inserts a raw body into a queue as another producer would, bypassing the codec (and NOTIFY). */
export async function injectRaw(
  pool: pg.Pool,
  namespace: string,
  queue: string,
  body: string,
): Promise<void> {
  const broker = new PostgresBroker({ pool, schema: schemaOf(namespace) });
  await broker.migrate();
  await broker.close();
  await pool.query(`INSERT INTO "${schemaOf(namespace)}".machinery_tasks (queue, body) VALUES ($1, $2)`, [
    queue,
    body,
  ]);
}

/** Removes a test's schema and everything in it. */
export async function dropSchema(pool: pg.Pool, namespace: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schemaOf(namespace)}" CASCADE`);
}

/**
 * What a server restart looks like to clients: every connection of the test role is cut
 * (`pg_terminate_backend`), the tests' own included.
 */
export async function dropAllConnections(pool: pg.Pool): Promise<void> {
  await pool.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user AND datname = current_database() AND pid <> pg_backend_pid()',
  );
}
