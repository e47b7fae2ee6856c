import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type Fact, FactView } from '../src/control-facts.js';

const fact = (k: string, at: number, id: string, extra: Partial<Fact> = {}): Fact => ({
  k,
  at,
  id,
  w: at,
  ...extra,
});

describe('FactView (no service)', () => {
  it('keeps the last decision per key whatever order copies arrive in, and a copy changes nothing', () => {
    const one = new FactView();
    const other = new FactView();
    const pause = fact('p:q', 100, 'a');
    const resume = fact('p:q', 200, 'b', { gone: true });
    expect([one.apply(pause), one.apply(resume), one.apply(pause)]).toEqual([true, true, false]);
    expect([other.apply(resume), other.apply(pause)]).toEqual([true, false]);
    expect(one.get('p:q', 300)).toBeUndefined();
    expect(other.get('p:q', 300)).toBeUndefined();
    expect(one.apply({ ...resume, w: 900 })).toBe(false);
  });

  it('lists facts in force, lapsed ones and removals left out', () => {
    const view = new FactView();
    view.apply(fact('r:a', 100, 'x', { until: 1000 }));
    view.apply(fact('r:b', 100, 'x', { until: 5000 }));
    view.apply(fact('p:q', 100, 'y'));
    expect(view.inForce('r:', 2000).map((f) => f.k)).toEqual(['r:b']);
    expect(view.get('r:a', 999)?.k).toBe('r:a');
    expect(view.get('r:a', 1000)).toBeUndefined();
  });

  it('rewrites facts in force once their last copy is half the retention old, and each removal once', () => {
    const view = new FactView();
    view.apply(fact('p:long', 0, 'a'));
    view.apply(fact('r:short', 0, 'b', { until: 100 }));
    view.apply(fact('p:ended', 0, 'c', { gone: true }));
    expect(view.dueForRewrite(400, 1000)).toEqual([]);
    expect(
      view
        .dueForRewrite(600, 1000)
        .map((f) => f.k)
        .sort(),
    ).toEqual(['p:ended', 'p:long']);
    // Rewritten: a copy with a later publication time.
    view.apply(fact('p:long', 0, 'a', { w: 600 }));
    view.apply(fact('p:ended', 0, 'c', { gone: true, w: 600 }));
    expect(view.dueForRewrite(700, 1000)).toEqual([]);
    // The pause again after another half retention; the removal never again.
    expect(view.dueForRewrite(1200, 1000).map((f) => f.k)).toEqual(['p:long']);
    view.prune(1700, 1000);
    expect(view.get('p:long', 1700)?.k).toBe('p:long');
    expect(view.apply(fact('p:ended', 0, 'c', { gone: true }))).toBe(true);
  });

  it('ignores messages that are not its own', () => {
    expect(decodeMessage(Buffer.from('not json'))).toBeUndefined();
    expect(decodeMessage(Buffer.from('{"t":"other"}'))).toBeUndefined();
    const m = decodeMessage(
      encodeMessage({ t: 'facts', facts: [fact('p:q', 1, 'a'), { k: 1 } as unknown as Fact] }),
    );
    expect(m).toEqual({ t: 'facts', facts: [fact('p:q', 1, 'a')] });
  });
});
