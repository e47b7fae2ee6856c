import { describe, expect, it } from 'vitest';
import { Dictionary, SequentialByKey } from '../src/index.js';
import { RunningTasks } from '../src/running-tasks.js';
import type { TaskRun } from '../src/task-run.js';

describe('Dictionary', () => {
  it('sets, reads, counts and deletes string keys like a Map', () => {
    const d = new Dictionary<number>();
    d.set('a', 1);
    d.set('b', 2);
    d.set('a', 3);
    expect(d.size).toBe(2);
    expect(d.get('a')).toBe(3);
    expect(d.has('b')).toBe(true);
    expect(d.has('c')).toBe(false);
    expect(d.delete('c')).toBe(false);
    expect(d.delete('b')).toBe(true);
    expect(d.delete('b')).toBe(false);
    expect(d.size).toBe(1);
    expect(d.keys()).toEqual(['a']);
    expect(d.values()).toEqual([3]);
    expect(d.keyValues()).toEqual([['a', 3]]);
  });

  it('takes keys that are Object.prototype names and starts empty again after the last delete', () => {
    const d = new Dictionary<string>();
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) d.set(key, key);
    expect(d.size).toBe(4);
    expect(d.get('__proto__')).toBe('__proto__');
    expect(new Dictionary<string>().has('toString')).toBe(false);
    for (const key of d.keys()) d.delete(key);
    expect(d.size).toBe(0);
    d.set('x', 'y');
    expect(d.keyValues()).toEqual([['x', 'y']]);
    d.clear();
    expect(d.size).toBe(0);
    expect(d.get('x')).toBeUndefined();
  });
});

describe('SequentialByKey', () => {
  it('runs operations of one key in call order and forgets a key once its operations settled', async () => {
    const seq = new SequentialByKey();
    const order: string[] = [];
    const slow = seq.run('k', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('first');
    });
    const failing = seq.run('k', async () => {
      order.push('second');
      throw new Error('boom');
    });
    const third = seq.run('k', async () => order.push('third'));
    const other = seq.run('other', async () => order.push('other'));
    expect(seq.size).toBe(2);
    await Promise.allSettled([slow, failing, third, other]);
    expect(order).toEqual(['other', 'first', 'second', 'third']);
    await expect(failing).rejects.toThrow('boom');
    await new Promise((r) => setImmediate(r));
    expect(seq.size).toBe(0);
  });
});

describe('RunningTasks', () => {
  const run = (name: string) => ({ name, slot: -1 }) as unknown as TaskRun;

  it('holds each run once, removes any of them, and iterates over the rest', () => {
    const running = new RunningTasks();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(run) as [TaskRun, TaskRun, TaskRun, TaskRun];
    for (const r of [a, b, c, d]) running.add(r);
    expect(running.size).toBe(4);
    running.delete(b);
    running.delete(b);
    expect(running.size).toBe(3);
    expect(new Set(running)).toEqual(new Set([a, c, d]));
    running.delete(d);
    running.delete(a);
    expect([...running]).toEqual([c]);
    running.delete(c);
    expect(running.size).toBe(0);
    expect([a, b, c, d].map((r) => r.slot)).toEqual([-1, -1, -1, -1]);
  });

  it('ignores a run it does not hold', () => {
    const running = new RunningTasks();
    const held = run('held');
    running.add(held);
    const stranger = run('stranger');
    stranger.slot = 0;
    running.delete(stranger);
    expect([...running]).toEqual([held]);
  });
});
