import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { redisBench } from './redis-bench.js';

// `pnpm bench [--quick] [--only codec|redis|events|amqp|postgres|threads|flow] [--postgres] [--runs N] [--tasks N] [--no-crash] [--write]`: this project side by side
// with BullMQ and the raw clients on the same services, in one run. --write puts the report in
// bench/RESULTS.md together with the command that produced it.

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick');
const only = value('--only');
const runs = Number(value('--runs') ?? (quick ? 1 : 3));
/** `--tasks N` replaces the task count of the events figure (for a quick check of it). */
const tasksArg = value('--tasks');
const tasks = tasksArg === undefined ? undefined : Number(tasksArg);
if (tasks !== undefined && (!Number.isInteger(tasks) || tasks < 100)) {
  process.stderr.write('bench: --tasks must be an integer ≥ 100.\n');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const sections: string[] = [];
const startedAt = new Date();
if (!only || only === 'codec') {
  const { codecBench } = await import('./codec-bench.js');
  sections.push(`## Codec\n\n${codecBench()}`);
}
if (!only || only === 'redis') {
  sections.push(
    `## Redis (${redisUrl.replace(/\/\/[^@]*@/, '//')})\n\n${await redisBench({
      redisUrl,
      drainTasks: quick ? 5000 : 20_000,
      latencyTasks: quick ? 1500 : 5000,
      rate: 500,
      memoryTasks: quick ? 20_000 : 100_000,
      runs,
      crash: !flag('--no-crash'),
      log,
    })}`,
  );
}
if (!only || only === 'events') {
  const { eventsBench } = await import('./events-bench.js');
  sections.push(
    `## Task events (Redis control plane)\n\n${await eventsBench({
      redisUrl,
      tasks: tasks ?? (quick ? 5000 : 20_000),
      runs,
      log,
    })}`,
  );
}
if (!only || only === 'amqp') {
  const { amqpBench } = await import('./amqp-bench.js');
  sections.push(`## RabbitMQ\n\n${await amqpBench({ amqpUrl, tasks: quick ? 5000 : 20_000, runs, log })}`);
}

if (!only || only === 'threads') {
  const { threadsBench } = await import('./threads-bench.js');
  sections.push(
    `## Thread pool (CPU-bound tasks)\n\n${await threadsBench({
      redisUrl,
      cpuTasks: quick ? 1000 : 4000,
      noopTasks: tasks ?? (quick ? 5000 : 20_000),
      runs,
      log,
    })}`,
  );
}

if (!only || only === 'flow') {
  const { flowBench } = await import('./flow-bench.js');
  sections.push(
    `## Flow control (limits under their ceiling)\n\n${await flowBench({
      redisUrl,
      tasks: tasks ?? (quick ? 5000 : 10_000),
      runs,
      log,
    })}`,
  );
}

// PostgreSQL (PostgresBroker beside RedisBroker) only when asked for: --postgres or --only postgres.
if (only === 'postgres' || flag('--postgres')) {
  const { postgresBench } = await import('./postgres-bench.js');
  const postgresUrl =
    process.env.POSTGRES_URL ?? 'postgres://machinery:machinery@127.0.0.1:5432/machinery_test';
  sections.push(
    `## PostgreSQL (${postgresUrl.replace(/\/\/[^@]*@/, '//')})\n\n${await postgresBench({ postgresUrl, redisUrl, tasks: quick ? 5000 : 20_000, runs, log })}`,
  );
}

const command = `pnpm bench${args.length > 0 ? ` ${args.filter((a) => a !== '--write').join(' ')}` : ''}`;
const header =
  `Run ${startedAt.toISOString()} with \`${command}\` on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ` +
  `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; services on loopback, benchmark, ` +
  'workers and services share the same cores. Ratios are ours / peer (higher is better for rates, lower for latency, memory and commands).';
const report = `${header}\n\n${sections.join('\n\n')}\n`;
process.stdout.write(`\n${report}`);
if (flag('--write')) {
  const target = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  writeFileSync(target, `# Benchmark results\n\n${report}`);
  log(`wrote ${target}`);
}
