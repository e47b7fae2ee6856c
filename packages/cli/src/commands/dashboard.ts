import { isMachineryError, MachineryError } from '@machinery/core';
import type { DashboardAuth } from '@machinery/dashboard';
import type { Command, CommandResult } from '../command.js';
import { stringOption } from '../values.js';

const DEFAULT_PORT = 8080;

/** `machinery dashboard --json`: where it listened. */
export interface DashboardData {
  readonly url: string;
  readonly actions: boolean;
}

/** `machinery dashboard`: the web dashboard on its own HTTP server, until Ctrl-C. */
export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'the web dashboard on --port (read-only unless --actions), until Ctrl-C',
  usage: '',
  interruptible: true,
  description: `Serves @machinery/dashboard on http://--host:--port/ (default 127.0.0.1:${DEFAULT_PORT}) for the broker, backend and control plane the other commands use: queues and their counts, charts, task and group pages, dead letters, live workers, live updates. Read-only unless --actions (requeue, purge, revoke, pause, resume). Listening on anything but loopback needs a token (--token, or MACHINERY_DASHBOARD_TOKEN, which keeps it out of the process list) or a password (--user with MACHINERY_DASHBOARD_PASSWORD); open the page once with ?token=<token>. Runs until Ctrl-C, then exits 0.`,
  options: {
    port: { type: 'string', value: 'n', help: `TCP port (default ${DEFAULT_PORT}; 0 picks a free one)` },
    host: { type: 'string', value: 'address', help: 'address to listen on (default 127.0.0.1)' },
    actions: { type: 'boolean', help: 'enable requeue, purge, revoke, pause and resume buttons' },
    token: {
      type: 'string',
      value: 'secret',
      help: 'require this token (default: $MACHINERY_DASHBOARD_TOKEN)',
    },
    user: {
      type: 'string',
      value: 'name',
      help: 'require this username and the password in $MACHINERY_DASHBOARD_PASSWORD (HTTP Basic)',
    },
    'base-path': { type: 'string', value: 'path', help: 'serve under this path, e.g. /machinery' },
  },
  examples: [
    'machinery dashboard',
    'machinery dashboard --port 9000 --actions',
    'MACHINERY_DASHBOARD_TOKEN=… machinery dashboard --host 0.0.0.0 --actions',
  ],
  async run(ctx): Promise<CommandResult> {
    const { isLoopbackName, serveDashboard } = await loadDashboard();
    const port = portOption(stringOption(ctx.options, 'port'));
    const host = stringOption(ctx.options, 'host') ?? '127.0.0.1';
    const actions = ctx.options.actions === true;
    const token =
      stringOption(ctx.options, 'token') ?? (ctx.env.MACHINERY_DASHBOARD_TOKEN?.trim() || undefined);
    const user = stringOption(ctx.options, 'user');
    const password = ctx.env.MACHINERY_DASHBOARD_PASSWORD || undefined;
    if (user !== undefined && password === undefined) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        '--user needs the password in MACHINERY_DASHBOARD_PASSWORD.',
      );
    }
    const auth: DashboardAuth = {
      ...(token !== undefined ? { token } : {}),
      ...(password !== undefined ? { password, ...(user !== undefined ? { username: user } : {}) } : {}),
    };
    // Checked before connecting, so a refused bind costs no connection and says why at once.
    if (!isLoopbackName(host) && token === undefined && password === undefined) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `Refusing to listen on ${host} without a token or password: anyone who reaches this machine could read the queues${actions ? ' and change them' : ''}. Set MACHINERY_DASHBOARD_TOKEN (or --token), or listen on 127.0.0.1.`,
      );
    }
    const connection = await ctx.connect({ control: true });
    const basePath = stringOption(ctx.options, 'base-path');
    const served = await serveDashboard({
      broker: connection.broker,
      backend: connection.backend,
      control: connection.control,
      urls: connection.urls,
      port,
      host,
      actions,
      auth,
      ...(basePath !== undefined ? { basePath } : {}),
    });
    try {
      const data: DashboardData = { url: served.url, actions };
      if (ctx.options.json === true) ctx.out.json(data);
      else ctx.out.line(`dashboard ${served.url}`);
      ctx.out.error(
        `machinery: dashboard ${actions ? 'with actions' : 'read-only'}${token !== undefined ? ', open it once with ?token=<token>' : ''} (Ctrl-C stops)`,
      );
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return { data, streamed: true, render: () => {} };
    } finally {
      await served.close();
    }
  },
};

// Loaded when this command runs, so the other commands never load the web server's code.
async function loadDashboard(): Promise<typeof import('@machinery/dashboard')> {
  try {
    return await import('@machinery/dashboard');
  } catch (err) {
    if (isMachineryError(err) || (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'machinery dashboard needs @machinery/dashboard, which is missing beside the CLI: npm install @machinery/dashboard.',
      { cause: err },
    );
  }
}

function portOption(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(port) || port > 65535) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `--port ${text} is not a port: use a number from 0 to 65535.`,
    );
  }
  return port;
}
