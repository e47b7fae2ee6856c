import { setTimeout as sleep } from 'node:timers/promises';
import { chain, chord, group, type Server, type Signature, signature } from '@machinery/core';
import { CHAIN_LINK, CHORD_CALLBACK, LIMITED, TASK } from './config.js';
import { LIMIT_KEYS, LIMITED_BURST, LIMITED_MS } from './limited.js';

/**
 * Shape of the workload, in units sent (a unit is one task, group, chain or chord, or a burst of
 * {@link LIMITED_BURST} concurrency-limited tasks of one key): by UUIDs, about 5 % are limited tasks.
 */
export const MIX = { single: 0.665, group: 0.1, chain: 0.1, chord: 0.1, limited: 0.035 } as const;
export const GROUP_SIZE = 10;
export const CHAIN_LENGTH = 3;
export const CHORD_SIZE = 5;
/** Share of `soak_task` signatures (singles, group and chord members) that fail once, then retry. */
export const FLAKY_SHARE = 0.05;
/**
 * Share of single tasks that run for {@link SLOW_MS} instead of 0–20 ms: long enough for a revocation
 * sent when they start to reach them while they run (the revoker revokes half of them as they start).
 */
export const SLOW_SHARE = 0.05;
export const SLOW_MS: readonly [number, number] = [300, 800];

/** What the producer sent, and what must be true at the end. */
export class Expected {
  /**
   * Every task UUID sent. Each must end in SUCCESS, except the revoked ones and those a revocation
   * stopped (see `outcomes.ts`).
   */
  readonly uuids: string[] = [];
  /** Chord callback UUID → the sum its members' results add up to. */
  readonly chords = new Map<string, number>();
  /** Chord callback UUID → the UUID of the chord's group. */
  readonly chordGroups = new Map<string, string>();
  /** Last chain link UUID → the chain's final result. */
  readonly chains = new Map<string, number>();
  /** UUID → its role (`single`, `group member`, `chain link 2/3`, `chord callback`…), for diagnostics. */
  readonly roles = new Map<string, string>();
  /** UUID → the UUIDs whose completion sends it (previous chain link, chord members), for diagnostics. */
  readonly sources = new Map<string, string[]>();
  /** UUIDs of the tasks planned to fail once, in the order sent (the revoker picks retrying ones here). */
  readonly flaky: string[] = [];
  /** UUIDs of the slow single tasks (the revoker revokes some of them as they start). */
  readonly slow = new Set<string>();
  /** Revoked UUID → what its stored state was just before the revocation (queued, running…). */
  readonly revoked = new Map<string, string>();
  readonly counts = {
    singles: 0,
    groupMembers: 0,
    chainLinks: 0,
    chordMembers: 0,
    callbacks: 0,
    flaky: 0,
    limited: 0,
  };
}

type Unit = { size: number; send: (server: Server) => Promise<unknown> };

const small = () => 1 + Math.floor(Math.random() * 1000);

function taskSig(expected: Expected, slowMs = 0): { sig: Signature; n: number } {
  const n = small();
  const flaky = Math.random() < FLAKY_SHARE;
  // A planned failure needs one retry; Go's Fibonacci back-off makes it 1 s.
  const sig = signature(TASK, slowMs > 0 ? [n, flaky, slowMs] : [n, flaky], { retryCount: flaky ? 1 : 0 });
  if (flaky) {
    expected.counts.flaky++;
    expected.flaky.push(sig.uuid);
  }
  return { sig, n };
}

/**
 * {@link LIMITED_BURST} limited tasks of one key, sent at once: more than the key's max, so that some
 * of them wait for a slot while the others run.
 */
function limitedBurst(expected: Expected): Unit {
  const key = LIMIT_KEYS[Math.floor(Math.random() * LIMIT_KEYS.length)] as string;
  const [min, max] = LIMITED_MS;
  const sigs = Array.from({ length: LIMITED_BURST }, () =>
    signature(LIMITED, [small(), key, Math.round(min + Math.random() * (max - min))]),
  );
  for (const sig of sigs) {
    expected.uuids.push(sig.uuid);
    expected.roles.set(sig.uuid, `limited (${key})`);
  }
  expected.counts.limited += LIMITED_BURST;
  return { size: LIMITED_BURST, send: (s) => s.sendMany(sigs) };
}

/** Draws the next unit of the mix and records what it must produce. */
function nextUnit(expected: Expected): Unit {
  const r = Math.random();
  if (r < MIX.single) {
    const [min, max] = SLOW_MS;
    const slowMs = Math.random() < SLOW_SHARE ? Math.round(min + Math.random() * (max - min)) : 0;
    const { sig } = taskSig(expected, slowMs);
    if (slowMs > 0) expected.slow.add(sig.uuid);
    expected.uuids.push(sig.uuid);
    expected.roles.set(sig.uuid, 'single');
    expected.counts.singles++;
    return { size: 1, send: (s) => s.send(sig) };
  }
  if (r < MIX.single + MIX.group) {
    const g = group(...Array.from({ length: GROUP_SIZE }, () => taskSig(expected).sig));
    for (const t of g.tasks) {
      expected.uuids.push(t.uuid);
      expected.roles.set(t.uuid, 'group member');
    }
    expected.counts.groupMembers += GROUP_SIZE;
    return { size: GROUP_SIZE, send: (s) => s.sendGroup(g) };
  }
  if (r < MIX.single + MIX.group + MIX.limited) return limitedBurst(expected);
  if (r < MIX.single + MIX.group + MIX.limited + MIX.chain) {
    const ns = Array.from({ length: CHAIN_LENGTH }, small);
    const c = chain(...ns.map((n) => signature(CHAIN_LINK, [n])));
    c.tasks.forEach((t, i) => {
      expected.uuids.push(t.uuid);
      expected.roles.set(t.uuid, `chain link ${i + 1}/${CHAIN_LENGTH}`);
      const previous = c.tasks[i - 1];
      if (previous) expected.sources.set(t.uuid, [previous.uuid]);
    });
    expected.chains.set(
      (c.tasks.at(-1) as Signature).uuid,
      ns.reduce((a, b) => a + b, 0),
    );
    expected.counts.chainLinks += CHAIN_LENGTH;
    return { size: CHAIN_LENGTH, send: (s) => s.sendChain(c) };
  }
  const members = Array.from({ length: CHORD_SIZE }, () => taskSig(expected));
  const c = chord(group(...members.map((m) => m.sig)), signature(CHORD_CALLBACK));
  for (const m of members) {
    expected.uuids.push(m.sig.uuid);
    expected.roles.set(m.sig.uuid, 'chord member');
  }
  expected.uuids.push(c.callback.uuid);
  expected.roles.set(c.callback.uuid, 'chord callback');
  expected.sources.set(
    c.callback.uuid,
    members.map((m) => m.sig.uuid),
  );
  expected.chordGroups.set(c.callback.uuid, c.group.groupUUID);
  expected.chords.set(
    c.callback.uuid,
    members.reduce((a, m) => a + 2 * m.n, 0),
  );
  expected.counts.chordMembers += CHORD_SIZE;
  expected.counts.callbacks++;
  return { size: CHORD_SIZE + 1, send: (s) => s.sendChord(c) };
}

/** Options of {@link produce}. */
export interface ProduceOptions {
  /** Task UUIDs to send (the last unit may overshoot by a few). */
  tasks: number;
  /** Task UUIDs per second. */
  rate: number;
  /** Pause sending while more than this many sent UUIDs have not run yet. */
  maxBacklog: number;
  /** Sent UUIDs that have not run yet (refreshed by the caller). */
  backlog: (sent: number) => number;
  /** Stop early (timeout, SIGINT). */
  signal: AbortSignal;
  /** Sends at once. */
  inFlight?: number;
}

/** Producer statistics. */
export interface ProduceStats {
  sent: number;
  units: number;
  sendRetries: number;
  backlogPauses: number;
}

/**
 * Sends the workload at `rate` UUIDs/s, at most `inFlight` sends at once, pausing while the workers
 * are more than `maxBacklog` behind (so chaos hits tasks while they run rather than a queue that only
 * drains after the chaos stopped). A send that fails is sent again with the same UUIDs.
 */
export async function produce(server: Server, expected: Expected, o: ProduceOptions): Promise<ProduceStats> {
  const stats: ProduceStats = { sent: 0, units: 0, sendRetries: 0, backlogPauses: 0 };
  const limit = o.inFlight ?? 16;
  const running = new Set<Promise<void>>();
  let failure: unknown;
  let due = performance.now();
  while (stats.sent < o.tasks && !o.signal.aborted && failure === undefined) {
    const now = performance.now();
    if (due > now) await sleep(due - now);
    if (o.backlog(stats.sent) > o.maxBacklog) {
      stats.backlogPauses++;
      while (o.backlog(stats.sent) > o.maxBacklog && !o.signal.aborted) await sleep(100);
    }
    // After a pause, carry on at the rate instead of bursting to catch up.
    due = Math.max(due, performance.now() - 250);
    while (running.size >= limit) await Promise.race(running);
    const unit = nextUnit(expected);
    stats.units++;
    stats.sent += unit.size;
    due += (unit.size / o.rate) * 1000;
    const p: Promise<void> = sendWithRetry(server, unit, stats)
      .catch((err: unknown) => {
        failure = err;
      })
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
  return stats;
}

async function sendWithRetry(server: Server, unit: Unit, stats: ProduceStats): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await unit.send(server);
      return;
    } catch (err) {
      // The producer talks to the broker directly (no proxy), so this is rare; a resend may duplicate
      // a message that did get through, which the duplicate counts then show.
      if (attempt >= 5) throw err;
      stats.sendRetries++;
      await sleep(250 * attempt);
    }
  }
}
