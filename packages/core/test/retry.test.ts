import { describe, expect, it } from 'vitest';
import { backoffDelay, exponentialRetry, fibonacciNext, fibonacciRetry } from '../src/index.js';

describe('retry back-off', () => {
  it('steps through Fibonacci numbers as Go Machinery does', () => {
    expect([0, 1, 2, 3, 4, 5, 8].map(fibonacciNext)).toEqual([1, 2, 3, 5, 5, 8, 13]);
    const delays: number[] = [];
    let timeout = 0;
    for (let i = 0; i < 10; i++) {
      timeout = fibonacciRetry.next(timeout).timeout;
      delays.push(timeout);
    }
    expect(delays).toEqual([1, 2, 3, 5, 8, 13, 21, 34, 55, 89]);
    expect(fibonacciRetry.next(3)).toEqual({ timeout: 5, delayMs: 5000 });
  });

  it('grows exponentially with jitter inside its bounds and respects the cap', () => {
    const strategy = exponentialRetry({
      baseSeconds: 1,
      factor: 2,
      maxSeconds: 10,
      jitter: 0.5,
      random: () => 0,
    });
    const steps: number[] = [];
    let timeout = 0;
    for (let i = 0; i < 6; i++) {
      const next = strategy.next(timeout);
      timeout = next.timeout;
      steps.push(timeout);
      expect(next.delayMs).toBe(timeout * 500);
    }
    expect(steps).toEqual([1, 2, 4, 8, 10, 10]);
    expect(exponentialRetry({ random: () => 0.999 }).next(4).delayMs).toBeLessThanOrEqual(8000);
  });

  it('reconnect back-off grows exponentially, is capped and jittered', () => {
    const samples = Array.from({ length: 200 }, () => backoffDelay(1, 100, 2000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...samples)).toBeLessThanOrEqual(100);
    expect(new Set(samples).size).toBeGreaterThan(1);
    for (let attempt = 1; attempt < 60; attempt++) {
      const d = backoffDelay(attempt, 100, 2000);
      expect(d).toBeGreaterThanOrEqual(50);
      expect(d).toBeLessThanOrEqual(2000);
    }
    expect(backoffDelay(30, 100, 2000)).toBeGreaterThanOrEqual(1000);
  });
});
