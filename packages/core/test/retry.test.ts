import { describe, expect, it } from 'vitest';
import { exponentialRetry, fibonacciNext, fibonacciRetry } from '../src/index.js';

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
});
