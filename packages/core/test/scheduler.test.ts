import { describe, expect, it } from 'vitest';
import { chain, chord, group, isMachineryError, parseDuration, signature } from '../src/index.js';
import { instantiate, makeNextRun } from '../src/scheduler.js';

describe('schedules', () => {
  it('parses Go durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(() => parseDuration('5 minutes')).toThrow(/Invalid duration/);
  });

  it('computes cron and @every instants aligned across processes', () => {
    const every = makeNextRun('@every 10s');
    expect(every(new Date('2025-01-01T00:00:03Z'))?.toISOString()).toBe('2025-01-01T00:00:10.000Z');
    const cron = makeNextRun('*/15 * * * *');
    const next = cron(new Date('2025-01-01T00:07:00Z'));
    expect(next?.getUTCMinutes()).toBe(15);
    expect(makeNextRun('@hourly')(new Date('2025-01-01T00:07:00Z'))?.getUTCMinutes()).toBe(0);
  });

  it('refuses an invalid spec with a clear error', () => {
    let caught: unknown;
    try {
      makeNextRun('every day');
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toMatch(/Invalid schedule "every day"/);
  });

  it('gives every tick fresh UUIDs for tasks, groups, chains and chords', () => {
    const sig = signature('t', [1]);
    const a = instantiate(sig) as typeof sig;
    expect(a.uuid).not.toBe(sig.uuid);
    expect(a.args).toEqual(sig.args);

    const g = group(signature('a'), signature('b'));
    const g2 = instantiate(g) as typeof g;
    expect(g2.groupUUID).not.toBe(g.groupUUID);
    expect(g2.tasks.every((t) => t.groupUUID === g2.groupUUID && t.groupTaskCount === 2)).toBe(true);

    const c = chain(signature('x'), signature('y'), signature('z'));
    const c2 = instantiate(c) as typeof c;
    expect(c2.tasks.map((t) => t.name)).toEqual(['x', 'y', 'z']);
    expect(c2.tasks[0]?.onSuccess?.[0]?.uuid).toBe(c2.tasks[1]?.uuid);
    expect(c2.tasks[1]?.uuid).not.toBe(c.tasks[1]?.uuid);

    const ch = chord(group(signature('a'), signature('b')), signature('cb'));
    const ch2 = instantiate(ch) as typeof ch;
    expect(ch2.callback.uuid).toMatch(/^chord_/);
    expect(ch2.callback.uuid).not.toBe(ch.callback.uuid);
    expect(ch2.group.tasks.every((t) => t.chordCallback?.uuid === ch2.callback.uuid)).toBe(true);
  });
});
