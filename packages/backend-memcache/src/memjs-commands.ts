import type memjs from 'memjs';

// The memcached binary-protocol commands memjs 1.3 lacks, sent through memjs's own connections (its
// `perform`, or a server's callback table for the multi-get), so timeouts, retries, reconnects and the
// failure of requests on a closed connection work as for its own commands.

const GET = 0x00;
const SET = 0x01;
const INCREMENT = 0x05;
const NOOP = 0x0a;
const GETKQ = 0x0d;

const KEY_NOT_FOUND = 0x01;
const KEY_EXISTS = 0x02;

const STATUS_TEXT: Record<number, string> = {
  1: 'Key not found',
  2: 'Key exists',
  3: 'Value too large',
  4: 'Invalid arguments',
  5: 'Item not stored',
  6: 'Incr/Decr on non-numeric value',
  129: 'Unknown command',
  130: 'Out of memory',
};

const EMPTY = Buffer.alloc(0);

/** The parts of memjs 1.3's client this module uses beyond its typings. */
interface MemjsClientInternals {
  seq: number;
  options?: { retries?: number; retry_delay?: number };
}

/** A response callback that stays registered until a response without a body (the NOOP) arrives. */
type QuietHandler = ((response: memjs.Response) => void) & { quiet?: boolean };

/** A value read with its CAS token, for {@link setIfUnchanged}. */
export interface CasValue {
  readonly value: string;
  readonly cas: Buffer;
}

function statusError(command: string, status: number): Error {
  return new Error(`${command}: ${STATUS_TEXT[status] ?? `status ${status}`}`);
}

/** One binary-protocol request. */
function frame(
  opcode: number,
  key: string,
  extras: Buffer,
  value: Buffer,
  opaque: number,
  cas?: Buffer,
): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const buf = Buffer.alloc(24 + extras.length + keyBytes.length + value.length);
  buf.writeUInt8(0x80, 0);
  buf.writeUInt8(opcode, 1);
  buf.writeUInt16BE(keyBytes.length, 2);
  buf.writeUInt8(extras.length, 4);
  buf.writeUInt32BE(extras.length + keyBytes.length + value.length, 8);
  buf.writeUInt32BE(opaque, 12);
  cas?.copy(buf, 16);
  extras.copy(buf, 24);
  keyBytes.copy(buf, 24 + extras.length);
  value.copy(buf, 24 + extras.length + keyBytes.length);
  return buf;
}

function nextSeq(client: memjs.Client): number {
  client.incrSeq();
  return (client as unknown as MemjsClientInternals).seq;
}

/** Sends one request on the server of `key`, with memjs's retries. */
function perform(client: memjs.Client, key: string, build: (seq: number) => Buffer): Promise<memjs.Response> {
  const seq = nextSeq(client);
  const request = build(seq);
  return new Promise((resolve, reject) => {
    client.perform(key, request, seq, (err: Error | null, response: memjs.Response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

/** `gets`: the value of `key` and its CAS token, or `undefined` when the key does not exist. */
export async function getWithCas(client: memjs.Client, key: string): Promise<CasValue | undefined> {
  const response = await perform(client, key, (seq) => frame(GET, key, EMPTY, EMPTY, seq));
  const status = response.header.status;
  if (status === KEY_NOT_FOUND) return undefined;
  if (status !== 0) throw statusError('MemJS GETS', status);
  return { value: response.val.toString('utf8'), cas: Buffer.from(response.header.cas) };
}

/**
 * `cas`: stores `value` only if `key` still has the CAS token `cas`. False when another write came
 * first (or the key was deleted meanwhile): read again and retry.
 */
export async function setIfUnchanged(
  client: memjs.Client,
  key: string,
  value: string,
  cas: Buffer,
  expires: number,
): Promise<boolean> {
  const extras = Buffer.alloc(8);
  extras.writeUInt32BE(expires, 4);
  const response = await perform(client, key, (seq) =>
    frame(SET, key, extras, Buffer.from(value, 'utf8'), seq, cas),
  );
  const status = response.header.status;
  if (status === 0) return true;
  if (status === KEY_EXISTS || status === KEY_NOT_FOUND) return false;
  throw statusError('MemJS CAS', status);
}

/**
 * `incr` by `amount`, creating the counter at `initial` (never expiring) when it is missing; returns
 * the new value. memjs's own `increment` takes 32-bit numbers only and misreads values of 2^32 and above.
 */
export async function incrementBy(
  client: memjs.Client,
  key: string,
  amount: number,
  initial: number,
): Promise<number> {
  const extras = Buffer.alloc(20);
  extras.writeBigUInt64BE(BigInt(amount), 0);
  extras.writeBigUInt64BE(BigInt(initial), 8);
  extras.writeUInt32BE(0, 16);
  const response = await perform(client, key, (seq) => frame(INCREMENT, key, extras, EMPTY, seq));
  const status = response.header.status;
  if (status !== 0) throw statusError('MemJS INCREMENT', status);
  return Number(response.val.readBigUInt64BE(0));
}

/**
 * A multi-get: per server, one write of a quiet `GETKQ` per key closed by a `NOOP`, so the server
 * answers only the hits and then the NOOP — one round trip whatever the number of keys. Returns the
 * values found, by key; a missing key is absent from the map.
 */
export async function getMulti(client: memjs.Client, keys: readonly string[]): Promise<Map<string, string>> {
  const byServer = new Map<memjs.Server, string[]>();
  for (const key of new Set(keys)) {
    const server = client.server(key);
    if (!server) throw new Error('No servers available');
    const list = byServer.get(server);
    if (list) list.push(key);
    else byServer.set(server, [key]);
  }
  const found = new Map<string, string>();
  await Promise.all([...byServer].map(([server, list]) => quietGets(client, server, list, found)));
  return found;
}

function quietGets(
  client: memjs.Client,
  server: memjs.Server,
  keys: readonly string[],
  found: Map<string, string>,
): Promise<void> {
  const seq = nextSeq(client);
  const request = Buffer.concat([
    ...keys.map((key) => frame(GETKQ, key, EMPTY, EMPTY, seq)),
    frame(NOOP, '', EMPTY, EMPTY, seq),
  ]);
  const options = (client as unknown as MemjsClientInternals).options ?? {};
  let attempts = Math.max(1, options.retries ?? 2);
  const retryDelayMs = 1000 * (options.retry_delay ?? 0.2);
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const onResponse: QuietHandler = (response) => {
      if (response.header.opcode === NOOP) {
        if (failure) reject(failure);
        else resolve();
        return;
      }
      const status = response.header.status;
      if (status === 0) found.set(response.key.toString('utf8'), response.val.toString('utf8'));
      else failure ??= statusError('MemJS GETKQ', status);
    };
    // memjs keeps a quiet handler until a response without a body: the NOOP's.
    onResponse.quiet = true;
    const send = () => {
      failure = undefined;
      server.onResponse(seq, onResponse);
      server.onError(seq, (err) => {
        if (--attempts > 0) setTimeout(send, retryDelayMs);
        else reject(err);
      });
      server.write(request);
    };
    send();
  });
}
