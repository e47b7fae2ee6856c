import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeSignature,
  encodeSignature,
  encodeSignatureCompact,
  formatTime,
  signature,
} from '../src/index.js';
import { encodeString } from '../src/json.js';

/** Go's `encoding/json` for a string, written the slow, obvious way. */
function goString(s: string): string {
  return JSON.stringify(s).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Go's `time.RFC3339Nano` of a millisecond UTC date, written the slow, obvious way. */
function goTime(d: Date): string {
  const iso = d.toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac === '' ? '' : `.${frac}`}Z`;
}

const scalar = fc.oneof(
  fc.integer(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.string(),
  fc.boolean(),
);
const argValue = fc.oneof(scalar, fc.array(fc.string()), fc.array(fc.integer()), fc.uint8Array());

describe('codec properties', () => {
  it('encode → decode → encode is the identity for any signature', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.array(argValue, { maxLength: 6 }),
        fc.record({
          routingKey: fc.string(),
          priority: fc.integer({ min: 0, max: 255 }),
          retryCount: fc.nat(),
          retryTimeout: fc.nat(),
          immutable: fc.boolean(),
          eta: fc.option(
            fc.date({ min: new Date('1971-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
          ),
          headers: fc.option(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean()))),
        }),
        (name, args, options) => {
          const sig = signature(name, args, options);
          const text = encodeSignature(sig);
          const back = decodeSignature(text);
          expect(encodeSignature(back)).toBe(text);
          expect(back.name).toBe(name);
          expect(back.eta?.getTime()).toBe(sig.eta?.getTime());
          const compact = decodeSignature(encodeSignatureCompact(sig));
          expect(encodeSignatureCompact(compact)).toBe(encodeSignatureCompact(sig));
          expect(compact.args?.length ?? 0).toBe(args.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes any string as Go does, with or without characters to escape', () => {
    const risky = fc.constantFrom('<', '>', '&', '"', '\\', '\n', '\u2028', '\u2029', '\u007f', 'é', '😀');
    const text = fc.oneof(
      fc.string({ unit: 'grapheme-ascii' }),
      fc.string({ unit: 'binary' }),
      fc.tuple(fc.string({ unit: 'grapheme-ascii' }), risky).map(([a, b]) => a + b),
      fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 80 }),
      fc.string({ unit: 'binary-ascii' }),
      fc
        .tuple(fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 300 }), risky)
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(text, (s) => {
        expect(encodeString(s)).toBe(goString(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('formats times within one second and across seconds as Go does', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1971-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        fc.array(fc.integer({ min: -1500, max: 1500 }), { maxLength: 20 }),
        (start, steps) => {
          let ms = start.getTime();
          for (const step of [0, ...steps]) {
            ms += step;
            const d = new Date(ms);
            expect(formatTime(d)).toBe(goTime(d));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decoding arbitrary input throws nothing but DecodeError', () => {
    const base = encodeSignature(signature('t', [1, 'x'], { uuid: 'task_1', headers: {} }));
    const mutated = fc
      .tuple(fc.nat({ max: base.length }), fc.nat({ max: 20 }), fc.string({ maxLength: 8 }))
      .map(([at, del, ins]) => base.slice(0, at) + ins + base.slice(at + del));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), mutated), (text) => {
        try {
          decodeSignature(text);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
