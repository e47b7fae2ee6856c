import { DecodeError, MachineryError } from './errors.js';

/** A JSON value as the codec sees it: like `JSON.parse` output, but integers beyond 2^53 are `bigint`. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Nesting deeper than this is refused: no legitimate Machinery message comes close. */
export const MAX_JSON_DEPTH = 256;

// Only a run of 16+ digits can be an integer that JSON.parse would round; everything else takes the
// native fast path. A false positive (a long digit run inside a string) only costs the slow path.
const LONG_DIGITS = /\d{16}/;

/**
 * Parses JSON text losslessly: integers that a `number` cannot hold exactly become `bigint`.
 * @throws DecodeError on malformed input or nesting deeper than {@link MAX_JSON_DEPTH}.
 */
export function parseJson(text: string): JsonValue {
  if (!LONG_DIGITS.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch (err) {
      throw new DecodeError(`Malformed JSON: ${(err as Error).message}`, '', { cause: err });
    }
  }
  return new LosslessParser(text).parseDocument();
}

class LosslessParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    const value = this.value(0);
    this.ws();
    if (this.pos !== this.text.length) this.fail('unexpected trailing characters');
    return value;
  }

  private fail(what: string): never {
    throw new DecodeError(`Malformed JSON: ${what} at offset ${this.pos}`);
  }

  private ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    this.ws();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(
          c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`,
        );
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal`);
    this.pos += word.length;
    return value;
  }

  private number(): number | bigint {
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const match = m.exec(this.text);
    if (!match) return this.fail('invalid number');
    this.pos = m.lastIndex;
    const raw = match[0];
    if (match[1] === undefined && match[2] === undefined) {
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : BigInt(raw);
    }
    return Number(raw);
  }

  private string(): string {
    // Delegate escapes to JSON.parse on the exact slice: correct and fast.
    const t = this.text;
    let i = this.pos + 1;
    for (;;) {
      const c = t.charCodeAt(i);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) i++;
      i++;
    }
    const slice = t.slice(this.pos, i + 1);
    this.pos = i + 1;
    try {
      return JSON.parse(slice) as string;
    } catch {
      return this.fail('invalid string');
    }
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ]');
    }
  }

  private object(depth: number): { [key: string]: JsonValue } {
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.ws();
      if (this.text[this.pos++] !== ':') this.fail('expected :');
      const v = this.value(depth + 1);
      // defineProperty, not assignment: a "__proto__" key must stay data, never reach the prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or }');
    }
  }
}

const GO_ESCAPED = /[<>&\u2028\u2029]/;

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * Printable ASCII that JSON and Go's HTML-safe encoding both leave as it is: everything from space to
 * `~` except `"`, `\`, `<`, `>` and `&`. A regular expression rather than a `charCodeAt` loop: most
 * strings here are concatenations (`task_<uuid>`), and V8 reads a concatenated string char by char
 * several times slower than its regular-expression engine scans it.
 */
const PLAIN_ASCII = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*$/;

/** Encodes a string exactly as Go's `encoding/json` does (HTML-safe escapes for `<`, `>`, `&`). */
export function encodeString(s: string): string {
  // Most strings on the wire (UUIDs, task and queue names, states) need no escape at all: one scan is
  // several times cheaper than JSON.stringify plus the HTML-escape test.
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  const json = JSON.stringify(s);
  return GO_ESCAPED.test(json) ? json.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c) : json;
}

/** Encodes a number as Go's `encoding/json` does for float64 (shortest round-trip form). */
export function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new MachineryError(
      'ERR_ENCODE',
      `Cannot encode ${n} in JSON: Go Machinery has no NaN or Infinity.`,
    );
  }
  return Object.is(n, -0) ? '-0' : String(n);
}

/**
 * Encodes any JSON value the way Go would; `sortKeys` sorts object keys like a Go map (use it for
 * `Headers`), otherwise insertion order is kept.
 * @throws MachineryError `ERR_ENCODE` for values JSON cannot carry.
 */
export function encodeJson(value: unknown, sortKeys = false, depth = 0): string {
  if (depth > MAX_JSON_DEPTH) {
    throw new MachineryError(
      'ERR_ENCODE',
      `Cannot encode a value nested deeper than ${MAX_JSON_DEPTH} levels.`,
    );
  }
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item = value[i] as unknown;
          out += item === undefined ? 'null' : encodeJson(item, sortKeys, depth + 1);
        }
        return `${out}]`;
      }
      const withToJSON = value as { toJSON?: () => unknown };
      if (typeof withToJSON.toJSON === 'function')
        return encodeJson(withToJSON.toJSON(), sortKeys, depth + 1);
      if (value instanceof Uint8Array) return encodeString(Buffer.from(value).toString('base64'));
      const keys = Object.keys(value);
      if (sortKeys) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        if (!first) out += ',';
        first = false;
        out += `${encodeString(key)}:${encodeJson(item, sortKeys, depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw new MachineryError('ERR_ENCODE', `Cannot encode a ${typeof value} in JSON.`);
  }
}
