import type { Pool } from 'pg';
import type { PostgresTable } from './postgres-table.js';

/**
 * Creates `table`'s schema when it is missing, then runs `statements` (`CREATE TABLE IF NOT EXISTS`,
 * `CREATE INDEX IF NOT EXISTS`…) in one transaction under the table's advisory lock, so that many
 * processes starting at once neither fail nor interleave. Rejects with `pg`'s error as it is: the
 * adapter names what it was doing ({@link postgresError}).
 */
export async function createTables(
  pool: Pool,
  table: PostgresTable,
  statements: readonly string[],
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [table.lockKey]);
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists: a role
    // that may only use an existing schema must not be refused.
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [table.schema]);
    if (rowCount === 0) await client.query(table.createSchema);
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
    client.release();
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    // A connection in an unknown state is closed rather than handed to the next caller.
    client.release(err instanceof Error ? err : true);
    throw err;
  }
}
