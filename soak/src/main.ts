import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren } from './children.js';
import { BROKERS, type BrokerKind } from './config.js';
import { type BrokerResult, brokerTable, failures, passed, summaryTable } from './report.js';
import { emergencyCleanup, runBroker } from './run-broker.js';

// `pnpm soak [--short] [--only redis|amqp|sqs] [--tasks N] [--rate N] [--no-suppression] [--write]
// [--keep-logs]`: per broker, one producer and three worker processes under SIGKILLs and connection
// cuts; then checks that every task succeeded and every chord fired once, and counts duplicates.

// The AWS SDK warns once per process that it will require Node 22 in 2027 (see README); the soak
// runs on the repository's Node (≥ 20.19) and its workers inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = (text: string) => process.stdout.write(text);
const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}

const short = flag('--short');
const onlyArg = value('--only');
const only = onlyArg?.split(',') ?? [...BROKERS];
for (const b of only) {
  if (!(BROKERS as readonly string[]).includes(b)) fail(`--only takes ${BROKERS.join(', ')}; got "${b}".`);
}
const tasks = Number(value('--tasks') ?? (short ? 2500 : 50_000));
if (!Number.isInteger(tasks) || tasks < 10) fail('--tasks must be an integer ≥ 10.');
/** UUIDs/s per broker: in short mode the workload is spread over ~20 s; the full mode's rates were measured. */
const FULL_RATE: Record<BrokerKind, number> = { redis: 600, amqp: 500, sqs: 300 };
const rateArg = value('--rate');
const concurrency = Number(value('--concurrency') ?? 20);
const suppression = !flag('--no-suppression');
/** Share of the task UUIDs sent that the chaos revokes. */
const REVOKE_SHARE = 0.02;

const logRoot = join(tmpdir(), `machinery-soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(logRoot, { recursive: true });

const interrupt = new AbortController();
let interrupted = false;
const onSignal = (sig: string) => {
  if (interrupted) return;
  interrupted = true;
  log(`${sig}: stopping, removing what this run created (logs kept in ${logRoot})`);
  interrupt.abort();
  void emergencyCleanup().finally(() => {
    killAllChildren();
    process.exit(130);
  });
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
// Whatever way the runner ends, no worker process outlives it.
process.on('exit', killAllChildren);

const startedAt = new Date();
const results: BrokerResult[] = [];
for (const kind of only as BrokerKind[]) {
  if (interrupt.signal.aborted) break;
  const rate = Number(rateArg ?? (short ? Math.ceil(tasks / 20) : FULL_RATE[kind]));
  const produceMs = (tasks / rate) * 1000;
  const result = await runBroker(kind, {
    tasks,
    rate,
    suppression,
    concurrency,
    killEveryMs: [2000, 4000],
    cutEveryMs: [3000, 6000],
    revokeEveryMs: [1000, 2000],
    revokeShare: REVOKE_SHARE,
    pauseEveryMs: [4000, 8000],
    pauseForMs: [2000, 4000],
    // Producing at the rate takes produceMs; the budget allows it to run 50 % slow plus drain time.
    timeoutMs: Math.ceil(produceMs * 1.5 + 90_000),
    logRoot,
    log,
    signal: interrupt.signal,
  });
  results.push(result);
  writeFileSync(join(result.logDir, 'report.md'), brokerTable(result));
  const why = failures(result);
  log(
    `${kind}: ${why.length === 0 ? 'PASS' : `FAIL (${why.join('; ')})`} in ${(result.totalMs / 1000).toFixed(1)} s`,
  );
}

const totalS = ((Date.now() - startedAt.getTime()) / 1000).toFixed(0);
const command = `pnpm soak${args.length > 0 ? ` ${args.filter((a) => a !== '--write').join(' ')}` : ''}`;
const header =
  `Run ${startedAt.toISOString()} with \`${command}\` on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ` +
  `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; services, runner and workers on the same machine. ` +
  `Per broker: 3 worker processes (concurrency ${concurrency}, duplicate suppression ${suppression ? 'on' : 'off'}; worker-2 runs its tasks in a thread pool of 2 threads), ` +
  'one of them (control) never killed; a random other one SIGKILLed and restarted every 2–4 s and every ' +
  'worker↔broker connection reset every 3–6 s, ' +
  `${REVOKE_SHARE * 100} % of the tasks revoked in rounds every 1–2 s (and half the slow ones as they start), ` +
  'the queue paused for 2–4 s every 4–8 s ' +
  'while the producer sends; backend and control plane: Redis, not proxied. ' +
  `Total ${totalS} s.`;
const report = `${header}\n\n## Summary\n\n${summaryTable(results)}\n${results.map(brokerTable).join('\n')}`;
out(`\n${report}`);
/**
 * RESULTS.md keeps one section per suppression mode, so that a `--no-suppression` run sits beside the
 * default one for comparison; writing replaces only the section of this run's mode.
 */
function withSection(previous: string, body: string): string {
  const sections = [
    { key: 'on', title: 'With duplicate suppression (the default)' },
    { key: 'off', title: 'Without duplicate suppression (`--no-suppression`), for comparison' },
  ];
  const mine = suppression ? 'on' : 'off';
  const text = sections.map(({ key, title }) => {
    const begin = `<!-- soak:${key} -->`;
    const end = `<!-- /soak:${key} -->`;
    if (key === mine)
      return `${begin}\n## ${title}\n\n${body.replaceAll('\n### ', '\n#### ').replaceAll('## Summary', '### Summary')}\n${end}`;
    const from = previous.indexOf(begin);
    const to = previous.indexOf(end);
    return from >= 0 && to > from
      ? previous.slice(from, to + end.length)
      : `${begin}\n## ${title}\n\nNot run yet.\n${end}`;
  });
  return `# Soak results\n\nWritten by \`pnpm soak … --write\` (see README.md for what the rows mean).\n\n${text.join('\n\n')}\n`;
}

const ok = results.length > 0 && results.every(passed) && !interrupted;
if (flag('--write')) {
  const target = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  writeFileSync(target, withSection(existsSync(target) ? readFileSync(target, 'utf8') : '', report));
  log(`wrote ${target}`);
}
if (ok && !flag('--keep-logs')) rmSync(logRoot, { recursive: true, force: true });
else log(`logs: ${logRoot}`);
process.exit(ok ? 0 : 1);
