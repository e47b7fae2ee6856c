import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MachineryError } from '@machinery/core';
import { isLoopbackName } from './auth.js';
import { createDashboard, type Dashboard } from './create-dashboard.js';
import type { DashboardOptions } from './options.js';

/** Options of {@link serveDashboard}: the dashboard's, and where to listen. */
export interface ServeDashboardOptions extends DashboardOptions {
  /** TCP port (default 8080; 0 picks a free one). */
  readonly port?: number;
  /** Address to bind (default `127.0.0.1`). Anything but loopback needs `auth`. */
  readonly host?: string;
}

/** A dashboard listening on its own HTTP server. */
export interface ServedDashboard {
  /** `http://host:port` plus the base path. */
  readonly url: string;
  readonly server: Server;
  readonly dashboard: Dashboard;
  /** Stops listening and closes the dashboard (not the broker, backend or control plane). */
  close(): Promise<void>;
}

/**
 * Starts the dashboard on its own `node:http` server — what `machinery dashboard` runs.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when `host` is not a loopback address and neither a
 * token nor a password is configured: anyone who reaches the machine could read every queue (and,
 * with actions, change them).
 */
export async function serveDashboard(options: ServeDashboardOptions): Promise<ServedDashboard> {
  const host = options.host ?? '127.0.0.1';
  const hasAuth = options.auth?.token !== undefined || options.auth?.password !== undefined;
  if (!isLoopbackName(host) && !hasAuth) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Refusing to listen on ${host} without a token or password: anyone who reaches this machine could read the queues${options.actions ? ' and change them' : ''}. Pass a token (machinery dashboard --token <secret>, or auth: { token }) or bind to 127.0.0.1.`,
    );
  }
  const dashboard = createDashboard(options);
  const server = createServer(dashboard);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await dashboard.close();
    const code = (err as { code?: string }).code;
    const hint =
      code === 'EADDRINUSE'
        ? ': another process listens there; choose another port (0 picks a free one)'
        : code === 'EADDRNOTAVAIL'
          ? ': no interface of this machine has that address'
          : '';
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Cannot listen on ${host}:${options.port ?? 8080} (${(err as Error).message})${hint}.`,
      {
        cause: err,
      },
    );
  }
  await dashboard.ready;
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}${(options.basePath ?? '').replace(/\/+$/, '')}/`,
    server,
    dashboard,
    async close() {
      await dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
