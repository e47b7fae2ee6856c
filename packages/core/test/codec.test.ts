import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  argValue,
  DecodeError,
  decodeGroupMeta,
  decodeSignature,
  decodeTaskState,
  encodeForPublish,
  encodeGroupMeta,
  encodeSignature,
  encodeSignatureCompact,
  encodeTaskState,
  isMachineryError,
  PreciseDate,
  parseJson,
  signature,
} from '../src/index.js';

const dir = fileURLToPath(new URL('./vectors/', import.meta.url));
const vectors = readdirSync(dir).filter((f) => f.endsWith('.json'));

function vector(name: string): string {
  return readFileSync(dir + name, 'utf8').trim();
}

describe('codec: wire-format vectors', () => {
  it('has every vector from the spec', () => {
    expect(vectors.sort()).toEqual([
      'group-meta.json',
      'signature-chain.json',
      'signature-chord-member.json',
      'signature-eta-retry.json',
      'signature-plain.json',
      'state-failure.json',
      'state-pending.json',
      'state-success.json',
    ]);
  });

  for (const file of vectors) {
    it(`decodes ${file} and re-encodes it to identical bytes`, () => {
      const text = vector(file);
      let again: string;
      if (file.startsWith('signature-')) again = encodeSignature(decodeSignature(text));
      else if (file.startsWith('state-')) again = encodeTaskState(decodeTaskState(text));
      else again = encodeGroupMeta(decodeGroupMeta(text));
      expect(again).toBe(text);
    });
  }

  it('reads the chain vector as nested OnSuccess links', () => {
    const sig = decodeSignature(vector('signature-chain.json'));
    expect(sig.onSuccess?.[0]?.name).toBe('add');
    expect(sig.onSuccess?.[0]?.headers).toBeNull();
    expect(sig.onSuccess?.[0]?.onSuccess?.[0]?.name).toBe('multiply');
    expect(sig.headers).toEqual({});
  });

  it('reads ETA, retry fields and typed args of the eta-retry vector', () => {
    const sig = decodeSignature(vector('signature-eta-retry.json'));
    expect(sig.eta?.toISOString()).toBe('2025-06-01T10:00:05.500Z');
    expect(sig.retryCount).toBe(2);
    expect(sig.retryTimeout).toBe(3);
    expect(sig.priority).toBe(3);
    expect(sig.immutable).toBe(true);
    expect(sig.args?.map(argValue)).toEqual(['https://example.com/', ['a', 'b'], true, 0.25]);
  });
});

describe('codec: compact form', () => {
  const normalise = (sig: ReturnType<typeof decodeSignature>): unknown =>
    JSON.parse(
      encodeSignature(sig)
        .replaceAll('"Headers":{}', '"Headers":null')
        .replaceAll('"Args":[]', '"Args":null'),
    );

  for (const file of vectors.filter((f) => f.startsWith('signature-'))) {
    it(`omits only zero values: ${file} decodes to the same message`, () => {
      const full = decodeSignature(vector(file));
      const compact = encodeSignatureCompact(full);
      expect(compact.length).toBeLessThan(vector(file).length);
      expect(normalise(decodeSignature(compact))).toEqual(normalise(full));
    });
  }

  it('keeps Go key order and omits empty arg names', () => {
    const text = encodeSignatureCompact(
      signature('greet', [42], { uuid: 'task_1', routingKey: 'q', retryCount: 2, headers: {} }),
    );
    expect(text).toBe(
      '{"UUID":"task_1","Name":"greet","RoutingKey":"q","Args":[{"Type":"int64","Value":42}],"RetryCount":2}',
    );
  });

  it('is what brokers publish by default, and the full Go form on request', () => {
    const sig = signature('t', [], { uuid: 'task_2' });
    expect(encodeForPublish(sig, 'q').body).toBe('{"UUID":"task_2","Name":"t","RoutingKey":"q"}');
    expect(encodeForPublish(sig, 'q', undefined, 'go').body).toBe(encodeSignature(sig));
  });
});

describe('codec: numbers, bytes and time', () => {
  it('keeps int64 185135722552891243 and uint64 9223372036854775808 exact through a round trip', () => {
    const text = encodeSignature(
      signature('big', [], {
        uuid: 'task_x',
        headers: {},
      }),
    ).replace(
      '"Args":null',
      '"Args":[{"Name":"","Type":"int64","Value":185135722552891243},{"Name":"","Type":"uint64","Value":9223372036854775808}]',
    );
    const sig = decodeSignature(text);
    expect(sig.args?.map(argValue)).toEqual([185135722552891243n, 9223372036854775808n]);
    expect(encodeSignature(sig)).toBe(text);
  });

  it('decodes small integers as numbers and large ones as bigint', () => {
    expect(parseJson('[1, -2, 9007199254740991, 9007199254740993, -9223372036854775808]')).toEqual([
      1,
      -2,
      9007199254740991,
      9007199254740993n,
      -9223372036854775808n,
    ]);
  });

  it('sends bigint and Uint8Array args with Go types and reads them back', () => {
    const sig = signature('t', [2n ** 63n, new Uint8Array([1, 2, 255])], { uuid: 'task_y' });
    expect(sig.args?.map((a) => a.type)).toEqual(['uint64', '[]byte']);
    expect(sig.args?.[1]?.value).toBe('AQL/');
    const back = decodeSignature(encodeSignature(sig));
    expect(back.args?.map(argValue)).toEqual([2n ** 63n, new Uint8Array([1, 2, 255])]);
  });

  it('writes ETA as RFC 3339 with nanoseconds, trailing zeros trimmed', () => {
    const text = encodeSignature(
      signature('t', [], { uuid: 'task_z', eta: new Date('2025-01-01T12:00:05.120Z') }),
    );
    expect(text).toContain('"ETA":"2025-01-01T12:00:05.12Z"');
    const precise = decodeSignature(text.replace('05.12Z', '05.123456789Z'));
    expect(precise.eta).toBeInstanceOf(PreciseDate);
    expect(encodeSignature(precise)).toContain('"ETA":"2025-01-01T12:00:05.123456789Z"');
    expect(encodeSignature(decodeSignature(text.replace('05.12Z', '05+02:00')))).toContain(
      '"ETA":"2025-01-01T12:00:05+02:00"',
    );
  });

  it('escapes <, > and & as Go does', () => {
    const text = encodeSignature(signature('t', ['<a & b>'], { uuid: 'task_h' }));
    expect(text).toContain('"Value":"\\u003ca \\u0026 b\\u003e"');
    expect(argValue(decodeSignature(text).args?.[0] as never)).toBe('<a & b>');
  });

  it('sorts header keys like a Go map', () => {
    const text = encodeSignature(signature('t', [], { uuid: 'task_s', headers: { b: 1, a: 'x' } }));
    expect(text).toContain('"Headers":{"a":"x","b":1}');
  });
});

describe('codec: bad input', () => {
  const base = vector('signature-plain.json');
  const cases: [string, string, RegExp][] = [
    ['malformed JSON', '{"UUID":', /Malformed JSON/],
    ['truncated JSON', base.slice(0, base.length - 10), /Malformed JSON/],
    ['a non-object body', '[1,2,3]', /must be a JSON object/],
    ['a string body', '"hello"', /must be a JSON object/],
    [
      'a missing UUID',
      base.replace('"UUID":"task_9b2f6d1e-8c4a-4f7e-a1d3-2e5c7b9f0a11",', ''),
      /UUID is missing/,
    ],
    ['a missing Name', base.replace('"Name":"greet",', ''), /Name is missing/],
    ['an invalid ETA', base.replace('"ETA":null', '"ETA":"tomorrow"'), /Invalid timestamp/],
    [
      'a negative RetryCount',
      base.replace('"RetryCount":0', '"RetryCount":-1'),
      /RetryCount must be an integer/,
    ],
    [
      'a fractional RetryCount',
      base.replace('"RetryCount":0', '"RetryCount":1.5'),
      /RetryCount must be an integer/,
    ],
    [
      'a string RetryCount',
      base.replace('"RetryCount":0', '"RetryCount":"3"'),
      /RetryCount must be an integer/,
    ],
    [
      'Args that are not an array',
      base.replace(/"Args":\[.*?\],"Headers"/, '"Args":{"a":1},"Headers"'),
      /Args must be an array/,
    ],
    ['an arg without Type', base.replace('"Type":"int64",', ''), /arg Type must be a non-empty string/],
    [
      'deep nesting',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      /Malformed JSON|must be a JSON object|nesting/,
    ],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what} with a DecodeError`, () => {
      let caught: unknown;
      try {
        decodeSignature(text);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(DecodeError);
      expect(isMachineryError(caught, 'ERR_DECODE')).toBe(true);
      expect((caught as Error).message).toMatch(message);
    });
  }

  it('keeps a "__proto__" header as data without polluting prototypes', () => {
    const text = base.replace(
      '"Headers":{}',
      '"Headers":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
    );
    const sig = decodeSignature(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(sig.headers ?? {})).toEqual(['__proto__', 'constructor']);
    expect(encodeSignature(sig)).toContain('"__proto__":{"polluted":true}');
  });

  it('refuses a body over maxBytes', () => {
    expect(() => decodeSignature(base, { maxBytes: 100 })).toThrow(/exceeds the maximum of 100 bytes/);
  });

  it('refuses to publish a message over the maximum with ERR_PAYLOAD_TOO_LARGE', () => {
    const sig = signature('big', ['x'.repeat(2000)]);
    let caught: unknown;
    try {
      encodeForPublish(sig, 'q', 1000);
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_PAYLOAD_TOO_LARGE')).toBe(true);
    expect((caught as Error).message).toMatch(/over the broker's maximum of 1000/);
  });
});
