import { describe, expect, it } from 'vitest';
import { hasHashTag } from '../src/index.js';

describe('hasHashTag', () => {
  it('recognises a hash tag in a prefix, and only a non-empty one', () => {
    expect(hasHashTag('{machinery}:')).toBe(true);
    expect(hasHashTag('app:{q1}:')).toBe(true);
    expect(hasHashTag('')).toBe(false);
    expect(hasHashTag('{}:')).toBe(false);
    expect(hasHashTag('machinery:')).toBe(false);
    expect(hasHashTag('}x{')).toBe(false);
  });
});
