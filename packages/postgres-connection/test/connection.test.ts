import { isMachineryError, silentLogger } from '@machinery/core';
import {
  dropAllPostgresConnections,
  expectConnectionErrors,
  POSTGRES_URL,
  recordingLogger,
  rejectionOf,
  schemaPerTest,
  thrownBy,
} from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import {
  checkPostgresName,
  createTables,
  openPostgresPool,
  PostgresListener,
  postgresError,
  postgresTable,
} from '../src/index.js';

const db = schemaPerTest();
const { raw, closer } = db;

function ownPool() {
  const opened = openPostgresPool({ url: POSTGRES_URL }, silentLogger);
  closer.add({ close: () => opened.pool.end() });
  return opened.pool;
}

it('creates a table from many processes at once, the schema included', async () => {
  const table = postgresTable(db.schema, 'things');
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${table.qualified} (id integer PRIMARY KEY)`,
    `CREATE INDEX IF NOT EXISTS ${table.index('by_id')} ON ${table.qualified} (id)`,
  ];
  const pools = [ownPool(), ownPool(), ownPool()];
  await Promise.all(
    pools.flatMap((p) => [createTables(p, table, statements), createTables(p, table, statements)]),
  );
  const { rows } = await raw.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1', [
    db.schema,
  ]);
  expect(rows.map((r: { indexname: string }) => r.indexname)).toEqual(['things_by_id', 'things_pkey']);
});

it('quotes names, so a table name with quotes and spaces is one table', async () => {
  const table = postgresTable(db.schema, 'odd "name"; DROP');
  await createTables(raw, table, [`CREATE TABLE IF NOT EXISTS ${table.qualified} (id integer)`]);
  const { rows } = await raw.query('SELECT tablename FROM pg_tables WHERE schemaname = $1', [db.schema]);
  expect(rows).toEqual([{ tablename: 'odd "name"; DROP' }]);
  expect(table.channel).toMatch(/^machinery_[0-9a-f]{20}$/);
  expect(postgresTable(db.schema, 'other').channel).not.toBe(table.channel);
});

it('hands notifications to onPayload, and listens again after every connection was cut', async () => {
  const pool = ownPool();
  const logger = recordingLogger();
  const payloads: string[] = [];
  let resumed = 0;
  const channel = postgresTable(db.schema, 'listened').channel;
  const listener = new PostgresListener({
    pool,
    channel,
    logger,
    onPayload: (p) => payloads.push(p),
    onResumed: () => resumed++,
    meanwhile: 'the test polls',
  });
  closer.add(listener);
  await listener.start();
  await raw.query('SELECT pg_notify($1, $2)', [channel, 'first']);
  await eventually(() => expect(payloads).toEqual(['first']));

  await dropAllPostgresConnections(raw);
  await eventually(() => expect(resumed).toBe(1), { timeoutMs: 15_000 });
  await eventually(() => raw.query('SELECT pg_notify($1, $2)', [channel, 'second']), { timeoutMs: 10_000 });
  await eventually(() => expect(payloads).toEqual(['first', 'second']));
  const warned = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  expect(warned).toContain('PostgreSQL LISTEN connection lost; the test polls');
});

it('close() gives the LISTEN connection back to the pool and is idempotent', async () => {
  const pool = ownPool();
  const listener = new PostgresListener({
    pool,
    channel: postgresTable(db.schema, 'closed').channel,
    logger: silentLogger,
    onPayload: () => {},
    onResumed: () => {},
    meanwhile: 'nothing',
  });
  await listener.start();
  expect(pool.idleCount + pool.waitingCount).toBe(0);
  await listener.close();
  await listener.close();
  expect(pool.totalCount).toBe(pool.idleCount);
});

it('uses a given pool as it is, and names the server of its own without the password', () => {
  const given = openPostgresPool({ pool: raw, url: 'postgres://ignored' }, silentLogger);
  expect(given).toMatchObject({ owned: false, where: 'the given pool' });
  expect(given.pool).toBe(raw);
  const own = openPostgresPool({ url: 'postgres://app:s3cr3t-pw@db.example:5432/app' }, silentLogger);
  closer.add({ close: () => own.pool.end() });
  expect(own.owned).toBe(true);
  expect(own.where).toBe('postgres://app:***@db.example:5432/app');
});

it('reports an unreachable server as ERR_CONNECTION naming it, without the password', async () => {
  const { pool, where } = openPostgresPool(
    { url: 'postgres://app:s3cr3t-pw@127.0.0.1:1/none', clientOptions: { connectionTimeoutMillis: 2000 } },
    silentLogger,
  );
  closer.add({ close: () => pool.end() });
  const err = postgresError('Counting', where, await rejectionOf(pool.query('SELECT 1')));
  expectConnectionErrors(
    [err],
    /^Counting failed on PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/none: .*ECONNREFUSED/,
  );
  expect(err.message).not.toContain('s3cr3t-pw');
});

it('names the SQLSTATE of a refusal by the server', async () => {
  const err = postgresError(
    'Reading',
    'here',
    await rejectionOf(raw.query('SELECT * FROM no_such_table_here')),
  );
  expect(err.message).toContain('(SQLSTATE 42P01)');
  expect(err.message).toContain(
    'Reading failed on PostgreSQL at here: relation "no_such_table_here" does not exist',
  );
});

it('refuses empty, over-long and NUL names, and applies the default', () => {
  expect(checkPostgresName('X', 'table', undefined, 'fallback')).toBe('fallback');
  expect(checkPostgresName('X', 'table', 'ok', 'fallback')).toBe('ok');
  for (const bad of ['', 'x'.repeat(64), 'a\0b', 'é'.repeat(32)]) {
    const err = thrownBy(() => checkPostgresName('PostgresThing', 'table', bad, 'fallback'));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/^PostgresThing option table must be 1 to 63 bytes without NUL/);
  }
});
