import {
  createServer,
  type Server as HttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type RequestListener,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisBackend, RedisControlPlane } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, type Worker } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterEach } from 'vitest';
import { createDashboard, type Dashboard, type DashboardOptions } from '../src/index.js';

/** Adds numbers. */
export const add = defineTask('add', (...n: number[]) => n.reduce((a, b) => a + b, 0));
/** Echoes its argument (a string the redaction tests look for). */
export const echo = defineTask('echo', (s: string) => `echo:${s}`);
/** Fails with a message that names its argument. */
export const boom = defineTask('boom', (s: string) => {
  throw new Error(`boom with ${s}`);
});
/** Reports its argument as progress. */
export const report = defineTask('report', async function (s: string) {
  this.progress({ secret: s });
  return 'reported';
});
/** Runs until revoked (reports progress every 200 ms). */
export const slow = defineTask('slow', async function (seconds: number) {
  for (let i = 0; i < seconds * 5; i++) {
    this.progress({ done: i });
    await sleep(200, undefined, { signal: this.signal });
  }
  return 'done';
});

/** How long `eventually` waits for what a worker, the event stream or a browser does. */
export const LONG = { timeoutMs: 20_000, intervalMs: 100 };

/** Listens on an ephemeral port of `host` and resolves with `http://<host>:<port>`. */
export async function listen(server: HttpServer, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Closes a server and the keep-alive and live-stream connections that would hold it open. */
export async function closeServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** What {@link useStacks} opens for a test; everything is closed after it, last opened first. */
export interface TestScope {
  /** {@link startStack}, closed after the test. */
  stack(dashboard?: Partial<DashboardOptions>): Promise<Stack>;
  /** {@link createDashboard}, closed after the test (its broker, backend and control stay the caller's). */
  dashboard(options: DashboardOptions): Dashboard;
  /** Serves `listener` on `127.0.0.1` (or `host`) until the test ends; resolves with its base URL. */
  serve(listener: RequestListener, host?: string): Promise<string>;
  /** Runs `close` after the test. */
  defer(close: () => Promise<void>): void;
}

/**
 * Registers an `afterEach` that closes what each test opened through the returned scope — stacks,
 * dashboards, servers — in reverse order, so a failing assertion leaks nothing into the next test.
 */
export function useStacks(): TestScope {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of cleanups.splice(0).reverse()) await close();
  });
  const defer = (close: () => Promise<void>) => {
    cleanups.push(close);
  };
  return {
    async stack(options = {}) {
      const s = await startStack(options);
      defer(() => s.close());
      return s;
    },
    dashboard(options) {
      const d = createDashboard(options);
      defer(() => d.close());
      return d;
    },
    async serve(listener, host) {
      const server = createServer(listener);
      const base = await listen(server, host);
      defer(() => closeServer(server));
      return base;
    },
    defer,
  };
}

/** A Redis broker, backend and control plane under one fresh key prefix, a Server, and a dashboard. */
export interface Stack {
  readonly ns: string;
  readonly queue: string;
  readonly server: Server;
  readonly broker: RedisBroker;
  readonly backend: RedisBackend;
  readonly control: RedisControlPlane;
  readonly dashboard: Dashboard;
  readonly http: HttpServer;
  /** `http://127.0.0.1:<port>` plus the base path. */
  readonly url: string;
  /** Starts a worker on the stack's queue (every task above registered, unregistered ones dead-lettered). */
  worker(): Promise<Worker>;
  close(): Promise<void>;
}

/** Starts a stack; `dashboard` options are merged over broker/backend/control. */
export async function startStack(dashboard: Partial<DashboardOptions> = {}): Promise<Stack> {
  const ns = uniqueNamespace('dash');
  const prefix = prefixOf(ns);
  const queue = `${ns}_tasks`;
  const broker = new RedisBroker({ url: REDIS_URL, prefix, defaultQueue: queue });
  const backend = new RedisBackend({ url: REDIS_URL, prefix });
  const control = new RedisControlPlane({ url: REDIS_URL, prefix });
  const server = new Server({ broker, backend, control, controlOptions: { heartbeatMs: 500 } });
  server.register(add, echo, boom, slow, report);
  const handler = createDashboard({ broker, backend, control, refreshMs: 300, ...dashboard });
  await handler.ready;
  const http = createServer(handler);
  const base = await listen(http);
  const workers: Worker[] = [];
  return {
    ns,
    queue,
    server,
    broker,
    backend,
    control,
    dashboard: handler,
    http,
    url: `${base}${dashboard.basePath ?? ''}`,
    async worker() {
      const w = server.worker({ concurrency: 4, unregisteredTaskRequeues: 0 });
      workers.push(w);
      await w.start();
      return w;
    },
    async close() {
      await handler.close();
      await closeServer(http);
      for (const w of workers) await w.stop();
      await server.close();
      const raw = rawClient(REDIS_URL);
      await deleteKeys(raw, prefix);
      raw.disconnect();
    },
  };
}

/** One HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A request with node:http (so tests can set Host, Origin and Sec-Fetch-Site freely). */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The JSON of a GET that must answer 200. */
export async function getJson<T = Record<string, unknown>>(
  url: string,
  headers: Record<string, string> = {},
): Promise<T> {
  const r = await request(url, { headers });
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

/** The CSRF token a page embeds. */
export function csrfOf(page: string): string {
  const m = /data-csrf="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error('no CSRF token in the page');
  return m[1];
}

/** {@link readEvents}, resolving `opened` once the stream answered (the dashboard then sends it every event). */
export async function openEvents(
  url: string,
  until: (frames: { event: string; data: string }[]) => boolean,
  headers: Record<string, string> = {},
): Promise<{ frames: Promise<{ event: string; data: string }[]> }> {
  let opened!: () => void;
  const open = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const frames = readEvents(url, until, headers, 15_000, opened);
  await Promise.race([open, frames]);
  return { frames };
}

/**
 * Reads a server-sent-event stream until `until` returns true for the frames so far (or `timeoutMs`
 * passes: then rejects), and returns every frame.
 */
export function readEvents(
  url: string,
  until: (frames: { event: string; data: string }[]) => boolean,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
  onOpen: () => void = () => {},
): Promise<{ event: string; data: string }[]> {
  return new Promise((resolve, reject) => {
    const frames: { event: string; data: string }[] = [];
    let buffer = '';
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        req.destroy();
        return;
      }
      onOpen();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) frames.push({ event, data });
          end = buffer.indexOf('\n\n');
        }
        if (until(frames)) {
          clearTimeout(timer);
          req.destroy();
          resolve(frames);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(
        new Error(
          `the stream did not deliver what was expected within ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 2000)}`,
        ),
      );
    }, timeoutMs);
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}
