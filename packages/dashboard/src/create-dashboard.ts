import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  errorText,
  isMachineryError,
  MachineryError,
  redactText,
  redactUrl,
  resolveLogger,
  revokeTasks,
  type Unsubscribe,
} from '@machinery/core';
import { Authenticator, SESSION_COOKIE } from './auth.js';
import { CLIENT_SCRIPT } from './client-script.js';
import { EventHistory } from './event-history.js';
import { toJson } from './json-text.js';
import { LiveHub } from './live-hub.js';
import type { DashboardOptions } from './options.js';
import {
  deadLettersPage,
  groupPage,
  groupsPage,
  messagePage,
  overviewPage,
  type PageContext,
  taskPage,
  workersPage,
} from './pages.js';
import { Queries } from './queries.js';
import { Redactor } from './redaction.js';
import { CsrfGuard, securityHeaders } from './security.js';
import { STYLES } from './styles.js';

/**
 * The dashboard as a Node request handler: `(req, res, next?)`, for `http.createServer`, Express
 * (`app.use(basePath, dashboard)`), Fastify and Hono (through their raw Node objects). A request outside
 * `basePath` goes to `next` (404 without one).
 */
export interface Dashboard {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Resolves once the dashboard follows the task event stream (at once without a control plane). */
  readonly ready: Promise<void>;
  /** Stops following events and ends open live streams. Does not close the broker, backend or control plane. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ASSETS: Record<string, { type: string; body: string }> = {
  '/assets/app.js': { type: 'text/javascript; charset=utf-8', body: CLIENT_SCRIPT },
  '/assets/app.css': { type: 'text/css; charset=utf-8', body: STYLES },
};

/**
 * Builds the dashboard: server-rendered pages, a JSON API under `<basePath>/api/…` that the pages use,
 * and live updates over server-sent events. Read-only unless `actions: true`; without `auth` it answers
 * only loopback requests.
 *
 * @example
 * ```ts
 * const connection = await connect({ broker: 'redis://127.0.0.1:6379' });
 * const dashboard = createDashboard({ ...connection, actions: true });
 * http.createServer(dashboard).listen(8080, '127.0.0.1');
 * ```
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for a missing broker or backend, an empty token or
 * password, a username without a password, or a `basePath` that does not start with `/`.
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { broker, backend, control } = options;
  if (!broker || !backend) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'createDashboard needs a broker and a backend (as connect() returns them).',
    );
  }
  const auth = options.auth ?? {};
  if (auth.token !== undefined && auth.token.length < 8) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', 'The dashboard token must have at least 8 characters.');
  }
  if (auth.password !== undefined && auth.password === '') {
    throw new MachineryError('ERR_INVALID_ARGUMENT', 'The dashboard password must not be empty.');
  }
  if (auth.username !== undefined && auth.password === undefined) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', 'A dashboard username needs a password too.');
  }
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/')) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', `basePath must start with "/" (got "${basePath}").`);
  }
  const actions = options.actions === true;
  const logger = resolveLogger(options.logger);
  const limit = options.limit ?? 1000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  if (!(Number.isFinite(requestTimeoutMs) && requestTimeoutMs > 0)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `requestTimeoutMs must be a positive number of milliseconds (got ${requestTimeoutMs}).`,
    );
  }
  const history = new EventHistory(
    options.historySize ?? 10_000,
    options.bucketMs ?? 10_000,
    options.buckets ?? 60,
  );
  const redactor = new Redactor(options.redact);
  const queries = new Queries(broker, backend, control, redactor, history, options.queues ?? [], limit);
  const hub = new LiveHub(queries, history, redactor, options.refreshMs ?? 2000, logger);
  const authenticator = new Authenticator(auth, options.authenticatedUpstream === true);
  const csrf = new CsrfGuard(randomBytes(32).toString('base64url'));
  const urls: [string, string][] = [];
  for (const key of ['broker', 'backend', 'control'] as const) {
    const u = options.urls?.[key];
    if (u) urls.push([key, redactUrl(u)]);
  }
  const ctx: PageContext = { title: options.title ?? 'Machinery', basePath, csrf: csrf.token, actions, urls };

  let unsubscribe: Unsubscribe | undefined;
  let closed = false;
  const ready: Promise<void> =
    control === undefined
      ? Promise.resolve()
      : control.events
          .subscribe((event) => hub.onEvent(event))
          .then(
            async (u) => {
              if (closed) await u();
              else unsubscribe = u;
            },
            (err) => {
              logger.error(
                { err: redactText(errorText(err)) },
                'dashboard: cannot follow the task event stream',
              );
            },
          );

  const handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const raw = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const url = new URL(raw, 'http://dashboard.invalid');
    const path = url.pathname;
    if (basePath !== '' && path !== basePath && !path.startsWith(`${basePath}/`)) {
      if (next) next();
      else sendText(res, 404, 'Not found');
      return;
    }
    const rel = path.slice(basePath.length) || '/';
    const api = rel.startsWith('/api/');
    securityHeaders(res, rel.startsWith('/assets/') ? 'no-cache' : 'no-store');

    const who = authenticator.check(req, url.searchParams.get('token'));
    if (!who.ok) {
      if (who.status === 401 && authenticator.basic) {
        res.setHeader('WWW-Authenticate', 'Basic realm="Machinery dashboard", charset="UTF-8"');
      }
      if (api) sendJson(res, who.status, { error: who.message });
      else
        sendHtml(
          res,
          who.status,
          messagePage(ctx, who.status === 401 ? 'Sign in' : 'Forbidden', who.message),
        );
      return;
    }
    if (who.via === 'query' && authenticator.sessionValue !== undefined) {
      const secure =
        (req.socket as { encrypted?: boolean }).encrypted === true ||
        req.headers['x-forwarded-proto'] === 'https';
      res.setHeader(
        'Set-Cookie',
        `${SESSION_COOKIE}=${authenticator.sessionValue}; Path=${basePath || '/'}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
      );
      url.searchParams.delete('token');
      // Drop the token from the address bar and history at once.
      res.statusCode = 303;
      res.setHeader('Location', `${path}${url.search}`);
      res.end();
      return;
    }

    withDeadline(route(req, res, rel, url, who.via === 'bearer'), req.method === 'POST').catch(
      (err: unknown) => {
        const status =
          err instanceof HttpError ? err.status : isMachineryError(err, 'ERR_CONNECTION') ? 503 : 500;
        const message = redactText(errorText(err));
        if (status >= 500) logger.warn({ err: message, path: rel }, 'dashboard: request failed');
        if (res.headersSent) {
          res.end();
          return;
        }
        if (api) sendJson(res, status, { error: message });
        else sendHtml(res, status, messagePage(ctx, status === 404 ? 'Not found' : 'Error', message));
      },
    );
  };

  /**
   * Rejects with a 503 once `requestTimeoutMs` passed. The route goes on, and its answer is dropped
   * (the send functions skip a response that has been answered).
   */
  function withDeadline(work: Promise<void>, isAction: boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const seconds = requestTimeoutMs / 1000;
        reject(
          new HttpError(
            503,
            `The broker, backend or control plane did not answer within ${seconds} s: check that they are reachable (their clients keep reconnecting).${isAction ? ' The action may still take effect once they answer.' : ' Reload to try again.'}`,
          ),
        );
      }, requestTimeoutMs);
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    rel: string,
    url: URL,
    viaBearer: boolean,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'POST') return action(req, res, rel, viaBearer);
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      throw new HttpError(405, `Method ${method} is not allowed.`);
    }
    const asset = ASSETS[rel];
    if (asset) {
      res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': Buffer.byteLength(asset.body) });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (rel === '/') {
      const overview = await queries.overview();
      return sendHtml(res, 200, overviewPage(ctx, overview, history.series(), queries.recentEvents(50)));
    }
    if (rel === '/api/overview') return sendJson(res, 200, await queries.overview());
    if (rel === '/api/series') return sendJson(res, 200, history.series());
    if (rel === '/api/events') return sendJson(res, 200, { events: queries.recentEvents(200) });
    if (rel === '/api/stream') {
      hub.attach(res);
      return;
    }
    if (rel === '/tasks') {
      const uuid = (url.searchParams.get('uuid') ?? '').trim();
      if (uuid === '') throw new HttpError(400, 'Give a task or group UUID: …/tasks?uuid=<uuid>.');
      res.statusCode = 303;
      res.setHeader('Location', `${basePath}/tasks/${encodeURIComponent(uuid)}`);
      res.end();
      return;
    }
    const taskPath = /^\/(api\/)?tasks\/([^/]+)$/.exec(rel);
    if (taskPath) {
      const uuid = param(taskPath[2]);
      const view = await queries.task(uuid);
      if (!view) throw new HttpError(404, notFound(uuid));
      if (taskPath[1]) return sendJson(res, 200, view);
      return sendHtml(res, 200, view.kind === 'group' ? groupPage(ctx, view) : taskPage(ctx, view));
    }
    if (rel === '/groups') return sendHtml(res, 200, groupsPage(ctx, await queries.groups()));
    if (rel === '/api/groups') return sendJson(res, 200, { groups: await queries.groups() });
    const groupPath = /^\/(api\/)?groups\/([^/]+)$/.exec(rel);
    if (groupPath) {
      const uuid = param(groupPath[2]);
      const view = await queries.group(uuid);
      if (!view)
        throw new HttpError(
          404,
          `No group ${uuid} in the result backend: it was never sent there, or it expired or was purged.`,
        );
      return groupPath[1] ? sendJson(res, 200, view) : sendHtml(res, 200, groupPage(ctx, view));
    }
    if (rel === '/dead-letters' || rel === '/api/dead-letters') {
      const letters = await queries.deadLetters();
      if (rel.startsWith('/api/')) return sendJson(res, 200, { deadLetters: letters });
      const canPurge = broker.purge !== undefined && broker.capabilities.purge?.deadLetters === true;
      return sendHtml(res, 200, deadLettersPage(ctx, letters, canPurge));
    }
    if (rel === '/workers') return sendHtml(res, 200, workersPage(ctx, await queries.workers()));
    if (rel === '/api/workers') return sendJson(res, 200, { workers: await queries.workers() });
    throw new HttpError(404, `No page ${rel} in the dashboard.`);
  }

  async function action(
    req: IncomingMessage,
    res: ServerResponse,
    rel: string,
    viaBearer: boolean,
  ): Promise<void> {
    // The body is not used: every parameter is in the path. Drained so the connection can be reused.
    if (!req.readableEnded) req.resume();
    if (!actions) {
      throw new HttpError(
        403,
        'Actions are disabled: this dashboard is read-only (createDashboard({ actions: true }) or machinery dashboard --actions).',
      );
    }
    const refused = csrf.refuse(req, viaBearer);
    if (refused !== undefined) throw new HttpError(403, refused);
    const plane = () => {
      if (control === undefined)
        throw new HttpError(409, 'This needs a control plane, and the dashboard has none.');
      return control;
    };
    let result: Record<string, unknown>;
    const revoke = /^\/api\/tasks\/([^/]+)\/revoke$/.exec(rel);
    const pauseOrResume = /^\/api\/queues\/([^/]+)\/(pause|resume)$/.exec(rel);
    const purge = /^\/api\/queues\/([^/]+)\/purge-dead-letters$/.exec(rel);
    if (revoke) {
      const uuid = param(revoke[1]);
      const revoked = await revokeTasks({ control: plane(), backend }, [uuid], {
        reason: 'revoked from the dashboard',
      });
      result = { revoked, message: `Revoked ${revoked.length === 1 ? uuid : `${revoked.length} tasks`}.` };
    } else if (pauseOrResume) {
      const queue = param(pauseOrResume[1]);
      const pause = pauseOrResume[2] === 'pause';
      if (pause) await plane().pauses.pause(queue);
      else await plane().pauses.resume(queue);
      result = { queue, paused: pause, message: `${pause ? 'Paused' : 'Resumed'} ${queue}.` };
    } else if (rel === '/api/dead-letters/requeue') {
      if (!broker.capabilities.deadLetterInspection)
        throw new HttpError(409, 'This broker cannot requeue dead letters.');
      const requeued = await broker.requeueDeadLetters(limit);
      result = { requeued, message: `Requeued ${requeued} dead letter${requeued === 1 ? '' : 's'}.` };
    } else if (purge) {
      const queue = param(purge[1]);
      if (broker.purge === undefined || broker.capabilities.purge?.deadLetters !== true) {
        throw new HttpError(409, 'This broker cannot purge dead letters.');
      }
      const removed = await broker.purge(queue, { deadLetters: true });
      result = { queue, removed, message: `Purged ${removed.deadLetters ?? 0} dead letters of ${queue}.` };
    } else {
      throw new HttpError(404, `No action ${rel} in the dashboard.`);
    }
    logger.info({ action: rel }, 'dashboard: action');
    hub.refresh();
    sendJson(res, 200, { ok: true, ...result });
  }

  return Object.assign(handler, {
    ready,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await ready;
      await hub.close();
      const u = unsubscribe;
      unsubscribe = undefined;
      await u?.();
    },
  });
}

function param(raw: string | undefined): string {
  let value: string;
  try {
    value = decodeURIComponent(raw ?? '');
  } catch {
    throw new HttpError(400, 'Malformed URL encoding in the path.');
  }
  if (value === '' || value.length > 512)
    throw new HttpError(400, 'Expected a UUID or queue name of 1 to 512 characters.');
  return value;
}

function notFound(uuid: string): string {
  return `No task or group ${uuid} in the result backend: it was never sent there, or its result expired or was purged.`;
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  // Answered already: the request's deadline passed while this answer was being read.
  if (res.headersSent) return;
  const body = toJson(data);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendHtml(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
