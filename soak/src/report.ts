import type { BrokerKind } from './config.js';
import { LIMIT_KEYS, LIMIT_MAX, LIMITED_BURST } from './limited.js';
import { PAUSE_GRACE_MS, type Verdict } from './verify.js';
import type { Expected } from './workload.js';

/** Memory of the control worker (never killed) over one run. */
export interface RssFigures {
  /** RSS after warm-up (first sample past 25 % of the producing phase), bytes. */
  warm: number;
  /** Last RSS sample before the workers were stopped, bytes. */
  end: number;
  peak: number;
  /** Grew by more than 30 % and 20 MB after warm-up. */
  grew: boolean;
  /** Grew beyond 3× and 200 MB: treated as a failure. */
  extreme: boolean;
}

/** Everything one broker run produced. */
export interface BrokerResult {
  kind: BrokerKind;
  runId: string;
  suppression: boolean;
  expected: Expected;
  verdict: Verdict | undefined;
  /** Why the run did not complete (setup failure, timeout); the verdict may still be there. */
  error: string | undefined;
  units: number;
  sendRetries: number;
  backlogPauses: number;
  rate: number;
  kills: number;
  restartFailures: number;
  unexpectedExits: string[];
  cuts: number;
  connectionsCut: number;
  proxyConnections: number;
  /** Calls of `server.revoke`, and those that failed (their tasks then just succeed). */
  revokeCalls: number;
  failedRevokeCalls: number;
  /** Each pause of the queue: asked for at `from`, resumed at `to` (ms since epoch). */
  pauses: { from: number; to: number }[];
  rss: RssFigures | undefined;
  produceMs: number;
  drainMs: number;
  totalMs: number;
  /** For lost UUIDs: where the broker still holds them (queue, delayed, dead letters). */
  whereLost: string | undefined;
  cleanup: string;
  leftover: string[];
  logDir: string;
}

const MB = 2 ** 20;
const n = (v: number) => v.toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;

/** Why the run failed; empty when it passed (nothing lost, every chord triggered once, right results). */
export function failures(r: BrokerResult): string[] {
  const v = r.verdict;
  const out: string[] = [];
  if (r.error !== undefined) out.push(`error: ${r.error.split('\n')[0]}`);
  if (v === undefined) out.push('no verdict');
  else {
    if (v.lost > 0) out.push(`${v.lost} lost`);
    if (v.chordTriggersNot1 > 0) out.push(`${v.chordTriggersNot1} chords triggered ≠ 1 time`);
    if (v.wrongResults > 0) out.push(`${v.wrongResults} wrong results`);
    if (v.successWithoutExecution > 0) out.push(`${v.successWithoutExecution} SUCCESS without execution`);
    if (v.ranThoughStopped > 0) out.push(`${v.ranThoughStopped} ran though stopped by a revocation`);
    if (v.limits.exceeded > 0) out.push(`concurrency limit exceeded ${v.limits.exceeded} times`);
  }
  if (r.leftover.length > 0) out.push(`left behind: ${r.leftover.join(', ')}`);
  if (r.unexpectedExits.length > 0) out.push(`unexpected worker exits: ${r.unexpectedExits.join(', ')}`);
  if (r.rss?.extreme) out.push('extreme RSS growth');
  return out;
}

/** True when the run passed. */
export function passed(r: BrokerResult): boolean {
  return failures(r).length === 0;
}

function rssText(r: RssFigures | undefined): string {
  if (!r) return 'n/a';
  const pct = ((r.end - r.warm) / r.warm) * 100;
  const flag = r.extreme ? ' ✗ extreme growth' : r.grew ? ' ⚠ grew after warm-up' : '';
  return `${mb(r.warm)} → ${mb(r.end)} (${pct >= 0 ? '+' : ''}${pct.toFixed(0)} %, peak ${mb(r.peak)})${flag}`;
}

/** The Markdown table of one broker run. */
export function brokerTable(r: BrokerResult): string {
  const v = r.verdict;
  const c = r.expected.counts;
  const rows: [string, string][] = [
    [
      'tasks sent (UUIDs)',
      `${n(r.expected.uuids.length)} in ${n(r.units)} sends: ${n(c.singles)} single, ${n(c.groupMembers)} in groups, ${n(c.chainLinks)} chain links, ${n(c.chordMembers)} chord members + ${n(c.callbacks)} callbacks, ${n(c.limited)} concurrency-limited`,
    ],
  ];
  if (v) {
    const lostDetail =
      v.lost === 0
        ? ''
        : ` — by state: ${Object.entries(v.lostByState)
            .map(([k, x]) => `${x} ${k}`)
            .join(', ')}; by role: ${Object.entries(v.lostByRole)
            .map(([k, x]) => `${x} ${k}`)
            .join(', ')}; e.g. ${v.lostSample.join('; ')}`;
    const revokedBy = Object.entries(v.revokedBy)
      .sort(([, a], [, b]) => b - a)
      .map(([k, x]) => `${n(x)} ${k}`)
      .join(', ');
    const pausedMs = r.pauses.reduce((a, p) => a + (p.to - p.from), 0);
    rows.push(
      ['succeeded (stored SUCCESS, revoked ones that finished included)', n(v.succeeded)],
      [
        '**lost** (not SUCCESS; revoked: neither SUCCESS nor FAILURE "was revoked"; stopped: not failed)',
        `**${n(v.lost)}**${lostDetail}${r.whereLost ? `; broker holds: ${r.whereLost}` : ''}`,
      ],
      [
        'revoked (stage of the stored state just before)',
        `${n(r.expected.revoked.size)} in ${n(r.revokeCalls)} calls${r.failedRevokeCalls > 0 ? ` (${r.failedRevokeCalls} failed)` : ''}${revokedBy === '' ? '' : `: ${revokedBy}`}`,
      ],
      [
        'revoked → FAILURE "was revoked" / → SUCCESS (finished before the revocation reached it)',
        `${n(v.outcomes.revokedFailed)} / ${n(v.outcomes.revokedFinished)} (workers failed ${n(v.revokedOnWorkers)} revoked deliveries)`,
      ],
      [
        'stopped by a revocation (never run, as designed)',
        `${n(v.stoppedLinks)} chain links after a revoked link (never sent), ${n(v.stoppedCallbacks)} chord callbacks failed for a revoked member`,
      ],
      ['**ran though stopped by a revocation**', `**${n(v.ranThoughStopped)}**`],
      [
        'queue paused',
        `${n(r.pauses.length)} times, ${s(pausedMs)} in all; executions more than ${s(PAUSE_GRACE_MS)} into a pause: ${n(v.executionsInPauses)}`,
      ],
      [
        'duplicated executions (at-least-once)',
        `${n(v.duplicatedExecutions)} (${n(v.duplicatedTasks)} tasks ran more than once)`,
      ],
      [
        'redeliveries suppressed (already SUCCESS/FAILURE)',
        r.suppression ? n(v.suppressed) : `${n(v.suppressed)} (suppression off)`,
      ],
      [
        '**chords triggered ≠ 1 time** (distinct members winning `triggerChord`)',
        `**${n(v.chordTriggersNot1)}** of ${n(v.chords)}; callbacks published more than once (the winner's redelivery re-sent it): ${n(v.chordCallbacksResent)}; callback bodies run twice: ${n(v.chordCallbacksRunTwice)}`,
      ],
      [
        `**concurrency limit exceeded** (starts with more than ${LIMIT_MAX} executions of their key live)`,
        `**${n(v.limits.exceeded)}**; ${n(c.limited)} limited tasks sent (${LIMIT_KEYS.length} keys, bursts of ${LIMITED_BURST}), ${n(v.limits.executions)} executions recorded, ${n(v.limits.cutShort)} of them ended by their process's exit; most live at once per key: ${Object.entries(
          v.limits.peak,
        )
          .map(([k, x]) => `${k} ${x}`)
          .join(', ')}; hand-backs of limited tasks (a full key, a pause): ${n(v.limitedHandedBack)}`,
      ],
      ['wrong chord/chain results', n(v.wrongResults)],
      ['SUCCESS without an execution', n(v.successWithoutExecution)],
      ...v.examples.map((e, i): [string, string] => [`example ${i + 1} (times from run start)`, e]),
      [
        'planned first-attempt failures / retries / final failures (revocations apart)',
        `${n(c.flaky)} / ${n(v.retried)} / ${n(v.failed)}`,
      ],
    );
  }
  rows.push(
    [
      'worker SIGKILLs (restarts)',
      `${n(r.kills)}${r.restartFailures > 0 ? ` (${r.restartFailures} restarts failed)` : ''}${r.unexpectedExits.length > 0 ? `; unexpected exits: ${r.unexpectedExits.join(', ')}` : ''}`,
    ],
    [
      'connection cuts (connections reset)',
      `${n(r.cuts)} (${n(r.connectionsCut)}; ${n(r.proxyConnections)} connections through the proxy)`,
    ],
    ['control worker RSS after warm-up → end', rssText(r.rss)],
    ['worker errors logged (reconnects, failed writes)', v ? n(v.workerErrors) : 'n/a'],
    [
      'time',
      `producing ${s(r.produceMs)} at ≤ ${n(r.rate)} UUIDs/s (${n(r.backlogPauses)} backlog pauses, ${n(r.sendRetries)} send retries), drain ${s(r.drainMs)}, total ${s(r.totalMs)}`,
    ],
    ['cleanup', `${r.cleanup}${r.leftover.length > 0 ? `; LEFT BEHIND: ${r.leftover.join(', ')}` : ''}`],
  );
  if (r.error) rows.push(['**error**', r.error]);
  rows.push(['verdict', passed(r) ? 'PASS' : `**FAIL**: ${failures(r).join('; ')} (logs in ${r.logDir})`]);
  const head = `### ${r.kind} (\`${r.runId}\`, suppression ${r.suppression ? 'on' : 'off'})`;
  return `${head}\n\n| | |\n|---|---|\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}\n`;
}

/** One row per broker. */
export function summaryTable(results: readonly BrokerResult[]): string {
  const head =
    '| broker | sent | succeeded | lost | revoked | revoked, finished | stopped | pauses | duplicated | suppressed | chords triggered ≠ 1 | callbacks re-sent | limit exceeded | kills | cuts | control RSS warm → end | time | verdict |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|';
  const rows = results.map((r) => {
    const v = r.verdict;
    const rss = r.rss ? `${mb(r.rss.warm)} → ${mb(r.rss.end)}${r.rss.grew ? ' ⚠' : ''}` : 'n/a';
    const na = (f: (x: Verdict) => number) => (v ? n(f(v)) : 'n/a');
    return `| ${r.kind} | ${n(r.expected.uuids.length)} | ${na((x) => x.succeeded)} | ${na((x) => x.lost)} | ${n(r.expected.revoked.size)} | ${na((x) => x.outcomes.revokedFinished)} | ${na((x) => x.outcomes.stopped)} | ${n(r.pauses.length)} | ${v ? n(v.duplicatedExecutions) : 'n/a'} | ${v ? n(v.suppressed) : 'n/a'} | ${v ? n(v.chordTriggersNot1) : 'n/a'} | ${v ? n(v.chordCallbacksResent) : 'n/a'} | ${na((x) => x.limits.exceeded)} | ${n(r.kills)} | ${n(r.cuts)} | ${rss} | ${s(r.totalMs)} | ${passed(r) ? 'PASS' : 'FAIL'} |`;
  });
  return `${head}\n${rows.join('\n')}\n`;
}
