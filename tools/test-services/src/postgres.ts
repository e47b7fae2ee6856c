import { Closer, uniqueNamespace } from '@machinery/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeEach } from 'vitest';

/** The test database: `node scripts/services.mjs up postgres` creates the role and database. */
export const POSTGRES_URL =
  process.env.POSTGRES_URL ?? 'postgres://machinery:machinery@127.0.0.1:5432/machinery_test';

/** A pool for the tests' own SQL (injecting rows, dropping schemas), separate from the code under test. */
export function rawPostgresPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  // The restart scenario drops every connection of the test role, these idle ones included.
  pool.on('error', () => {});
  return pool;
}

/** Each test works in a schema of its own, named by its namespace. */
export function schemaOf(namespace: string): string {
  return `t_${namespace}`;
}

/** Removes a test's schema and everything in it. */
export async function dropSchema(pool: pg.Pool, namespace: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schemaOf(namespace)}" CASCADE`);
}

/**
 * What a server restart looks like to clients: every connection of the test role is cut
 * (`pg_terminate_backend`), the tests' own included.
 */
export async function dropAllPostgresConnections(pool: pg.Pool): Promise<void> {
  await pool.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user AND datname = current_database() AND pid <> pg_backend_pid()',
  );
}

/** Something that creates the task table in a schema: a `PostgresBroker` on the given pool. */
export type TaskTableOwner = (
  pool: pg.Pool,
  schema: string,
) => { migrate(): Promise<void>; close(): Promise<void> };

/**
 * Inserts a raw body into a queue of the default task table (`machinery_tasks`) of a namespace's
 * schema, as another producer would, bypassing the codec (and `NOTIFY`). `owner` creates the table
 * first: test-services cannot depend on the broker, whose tests depend on test-services.
 */
export async function injectRawTask(
  pool: pg.Pool,
  namespace: string,
  queue: string,
  body: string,
  owner: TaskTableOwner,
): Promise<void> {
  const broker = owner(pool, schemaOf(namespace));
  await broker.migrate();
  await broker.close();
  await pool.query(`INSERT INTO "${schemaOf(namespace)}".machinery_tasks (queue, body) VALUES ($1, $2)`, [
    queue,
    body,
  ]);
}

/** What {@link schemaPerTest} gives a test file. */
export interface PostgresTestSchema {
  /** The file's raw pool ({@link rawPostgresPool}), ended after the file. */
  readonly raw: pg.Pool;
  /** Closes what a test added to it after that test, before its schema is dropped. */
  readonly closer: Closer;
  /** The running test's namespace (fresh for each test). */
  readonly namespace: string;
  /** The running test's schema, `schemaOf(namespace)`. */
  readonly schema: string;
}

/**
 * Registers the hooks every PostgreSQL test file repeats: a fresh namespace per test; after it, what
 * the test added to `closer` is closed and its schema dropped; after the file, the raw pool is ended.
 * Call it at the top level of a test file.
 */
export function schemaPerTest(): PostgresTestSchema {
  const raw = rawPostgresPool();
  const closer = new Closer();
  let namespace = '';
  beforeEach(() => {
    namespace = uniqueNamespace();
  });
  afterEach(async () => {
    await closer.closeAll();
    await dropSchema(raw, namespace);
  });
  afterAll(() => raw.end());
  return {
    raw,
    closer,
    get namespace() {
      return namespace;
    },
    get schema() {
      return schemaOf(namespace);
    },
  };
}
