import type { Backend, Broker, ControlPlane, Logger } from '@machinery/core';

/** What {@link Redact} is asked to hide: a task's arguments, its results, its error text or its progress. */
export type RedactKind = 'args' | 'results' | 'error' | 'progress';

/** The task a value belongs to, as {@link Redact} receives it. */
export interface RedactTask {
  readonly uuid: string;
  /** The task name; empty when unknown (an event-less dead letter that does not decode). */
  readonly name: string;
}

/**
 * Hides or rewrites what the dashboard shows of a task. `value` is, by `kind`: `args` and `results` the
 * wire values (`{ type, value }[]`), `error` the error text, `progress` what the task reported. The
 * returned value is shown instead (as JSON; a string as text). It is applied to every page, every API
 * answer and every server-sent event, so nothing it hides reaches a browser.
 *
 * @example
 * ```ts
 * redact: (kind, value, task) => (task.name === 'charge_card' && kind === 'args' ? '[hidden]' : value)
 * ```
 */
export type Redact = (kind: RedactKind, value: unknown, task: RedactTask) => unknown;

/**
 * How the dashboard authenticates people. With `token`, requests carry `Authorization: Bearer <token>`,
 * or open `?token=<token>` once (the dashboard then sets an HttpOnly, SameSite=Strict session cookie and
 * redirects to the URL without it). With `username` and `password`, browsers ask for them (HTTP Basic).
 * Both may be set; either then works.
 */
export interface DashboardAuth {
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
}

/** Display names of the services (shown in the page header). Credentials in them are masked again. */
export interface DashboardUrls {
  readonly broker?: string;
  readonly backend?: string;
  readonly control?: string;
}

/** Options of {@link createDashboard}. `broker` and `backend` are required. */
export interface DashboardOptions {
  /** The broker whose queues, delayed tasks and dead letters are shown. */
  readonly broker: Broker;
  /** The result backend tasks' states, results and groups are read from. */
  readonly backend: Backend;
  /**
   * The control plane: live workers, paused queues, revocations, progress and the task events that
   * feed the charts, timelines and live updates. Without one those parts say so.
   */
  readonly control?: ControlPlane | undefined;
  /** The URL path the dashboard is mounted under (default `''`, the root), e.g. `/admin/queues`. */
  readonly basePath?: string;
  /**
   * Allow actions — requeue and purge dead letters, revoke, pause and resume (default `false`: the
   * dashboard only reads, and shows no buttons).
   */
  readonly actions?: boolean;
  /** Token and/or username and password; without them only loopback requests are answered. */
  readonly auth?: DashboardAuth;
  /**
   * The application authenticates every request before this handler (its own middleware, a reverse
   * proxy): requests from other machines are then answered without the dashboard's own `auth`
   * (default `false`).
   */
  readonly authenticatedUpstream?: boolean;
  /** Hides or rewrites arguments, results, errors and progress everywhere they appear. */
  readonly redact?: Redact;
  /** Queues always listed on the overview, besides the broker's default queue and those seen. */
  readonly queues?: readonly string[];
  /** Listings (pending, delayed, dead letters) read at most this many items per count (default 1000). */
  readonly limit?: number;
  /**
   * How long a page, API answer or action waits for the broker, backend and control plane before it
   * answers 503, in ms (default 5000). Their clients queue commands while reconnecting, so without it
   * a page of an unreachable Redis would load for as long as the client retries.
   */
  readonly requestTimeoutMs?: number;
  /** How often open pages receive fresh counts over server-sent events, in ms (default 2000). */
  readonly refreshMs?: number;
  /** Task events kept in memory for timelines and the live list (default 10 000). */
  readonly historySize?: number;
  /** Width of one chart bar, in ms (default 10 000). */
  readonly bucketMs?: number;
  /** Bars per chart (default 60: ten minutes at the default width). */
  readonly buckets?: number;
  /** The services' URLs to show in the header (as `Connection.urls` from `@machinery/connect`). */
  readonly urls?: DashboardUrls;
  /** Page title (default `Machinery`). */
  readonly title?: string;
  /** Where failures of the event subscription are reported (default: warnings and errors to stderr). */
  readonly logger?: Logger;
}
