import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The request header an action must carry, holding the page's CSRF token. */
export const CSRF_HEADER = 'x-machinery-csrf';

/**
 * The policy every answer carries: scripts and styles only from the dashboard itself (no inline
 * script, so an injected `<script>` would not run), no framing, no referrer, same-origin connections.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Sets the security headers; `cache` is `no-store` for everything that carries data. */
export function securityHeaders(res: ServerResponse, cache = 'no-store'): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', cache);
}

/**
 * CSRF protection of actions: a POST must carry the page's token in {@link CSRF_HEADER}. A page of
 * another site can neither read the token (same-origin policy) nor send a custom header without a
 * CORS preflight, which the dashboard never grants; a plain cross-site form cannot set headers at all.
 * As a second line, a POST whose `Sec-Fetch-Site` is present and not `same-origin`, or whose `Origin`
 * names another host, is refused. A request authenticated by `Authorization: Bearer` (scripts, curl)
 * needs no token: browsers never add that header on their own.
 */
export class CsrfGuard {
  constructor(private readonly secret: string) {}

  /** The token pages embed; derived from a per-dashboard random secret. */
  get token(): string {
    return createHmac('sha256', this.secret).update('csrf').digest('base64url');
  }

  /** `undefined` when the action may run, else why not. */
  refuse(req: IncomingMessage, viaBearer: boolean): string | undefined {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
      return `Refused a cross-site request (Sec-Fetch-Site: ${site}).`;
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string' && origin !== 'null') {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (host !== req.headers.host) return 'Refused a request from another origin.';
    }
    if (viaBearer) return undefined;
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !equal(sent, this.token)) {
      return `Missing or wrong ${CSRF_HEADER} header: actions are sent by the dashboard's own page (or with Authorization: Bearer <token>).`;
    }
    return undefined;
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
