import type { Connection } from '@machinery/connect';
import { type ControlPlane, MachineryError } from '@machinery/core';
import type { CommandContext } from './command.js';

/** A connection that carries a control plane. */
export interface ControlConnection {
  readonly connection: Connection;
  readonly control: ControlPlane;
  /** Its URL, password masked. */
  readonly url: string;
}

/**
 * Opens the connection with its control plane, for a command that cannot work without one.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when the configuration has none (`--control none`, or
 * a backend package without a control plane).
 */
export async function connectControl(ctx: CommandContext, command: string): Promise<ControlConnection> {
  const connection = await ctx.connect({ control: true });
  const control = connection.control;
  if (control === undefined || connection.urls.control === undefined) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${command} needs a control plane, and there is none: --control or CONTROL_URL is none, or the result backend's adapter package has no control plane (upgrade it, or pass --control redis://…).`,
    );
  }
  return { connection, control, url: connection.urls.control };
}

/** How long ago `at` (ms since the epoch) was, for a person: `0.4 s ago`, `12 s ago`, `3 min ago`. */
export function ago(at: number, now = Date.now()): string {
  const ms = Math.max(0, now - at);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}
