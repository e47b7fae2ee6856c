import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { DashboardAuth } from './options.js';

/** The session cookie set after `?token=` (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'machinery_dashboard';

/** Who a request is, or why it is refused. */
export type AuthResult =
  | { readonly ok: true; readonly via: 'bearer' | 'cookie' | 'basic' | 'loopback' | 'upstream' | 'query' }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

/**
 * Decides whether a request may see the dashboard. With a token or a password configured, the request
 * must carry one (bearer header, session cookie, `?token=` or HTTP Basic). Without, only requests that
 * reach this process over loopback are answered — and only for a loopback `Host` name, so a web page
 * whose host name is made to resolve to 127.0.0.1 (DNS rebinding) cannot read it — unless the
 * application said it authenticates upstream.
 */
export class Authenticator {
  private readonly session: string | undefined;

  constructor(
    private readonly auth: DashboardAuth,
    private readonly upstream: boolean,
  ) {
    // The cookie holds a keyed hash of the token, never the token itself.
    this.session =
      auth.token === undefined
        ? undefined
        : createHmac('sha256', auth.token).update('machinery-dashboard-session').digest('base64url');
  }

  /** True when a token or a password is configured. */
  get required(): boolean {
    return this.auth.token !== undefined || this.auth.password !== undefined;
  }

  /** The value of the session cookie, for a request that presented the token. */
  get sessionValue(): string | undefined {
    return this.session;
  }

  check(req: IncomingMessage, queryToken: string | null): AuthResult {
    if (!this.required) {
      if (this.upstream) return { ok: true, via: 'upstream' };
      if (!isLoopback(req.socket.localAddress)) {
        return {
          ok: false,
          status: 403,
          message:
            'This dashboard has no token or password, so it answers only on loopback (127.0.0.1). Configure auth: { token } (machinery dashboard --token), or authenticatedUpstream: true when your application authenticates requests before the dashboard.',
        };
      }
      if (!isLoopbackHost(req.headers.host)) {
        return {
          ok: false,
          status: 403,
          message:
            'Without a token or password the dashboard answers only to the host names localhost, 127.0.0.1 and [::1]. Open it under one of them, or configure a token.',
        };
      }
      return { ok: true, via: 'loopback' };
    }
    const { token, username, password } = this.auth;
    const authorization = req.headers.authorization ?? '';
    if (token !== undefined) {
      const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1];
      if (bearer !== undefined && same(bearer, token)) return { ok: true, via: 'bearer' };
      const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (cookie !== undefined && this.session !== undefined && same(cookie, this.session)) {
        return { ok: true, via: 'cookie' };
      }
      if (queryToken !== null && same(queryToken, token)) return { ok: true, via: 'query' };
    }
    if (password !== undefined) {
      const basic = /^Basic\s+(.+)$/i.exec(authorization)?.[1];
      if (basic !== undefined) {
        const decoded = Buffer.from(basic, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = colon < 0 ? decoded : decoded.slice(0, colon);
        const pass = colon < 0 ? '' : decoded.slice(colon + 1);
        // Both compared every time, so the time taken does not tell which one was wrong.
        const userOk = same(user, username ?? user);
        const passOk = same(pass, password);
        if (userOk && passOk) return { ok: true, via: 'basic' };
      }
    }
    return {
      ok: false,
      status: 401,
      message:
        token !== undefined
          ? 'Authentication required: open the dashboard with ?token=<token> once, or send Authorization: Bearer <token>.'
          : 'Authentication required: sign in with the dashboard username and password.',
    };
  }

  /** Whether a 401 should ask the browser for a username and password. */
  get basic(): boolean {
    return this.auth.password !== undefined;
  }
}

/** Compares two secrets in time that does not depend on where they differ. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Hashing both first makes lengths equal, so a length mismatch is not answered faster.
  const hx = createHmac('sha256', 'cmp').update(x).digest();
  const hy = createHmac('sha256', 'cmp').update(y).digest();
  return timingSafeEqual(hx, hy) && x.length === y.length;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

/** True for a host name (or address) that only ever means this machine: `localhost`, 127.x, `::1`. */
export function isLoopbackName(name: string): boolean {
  const n = name.replace(/^\[|\]$/g, '').toLowerCase();
  return n === 'localhost' || n.endsWith('.localhost') || isLoopback(n);
}

function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopbackName(name);
}
