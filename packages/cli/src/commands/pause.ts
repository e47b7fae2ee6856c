import { MachineryError } from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { connectControl } from '../control.js';

/** One queue in `machinery pause --json` / `machinery resume --json`. */
export interface PauseRow {
  readonly queue: string;
  /** Whether it was paused before the command. */
  readonly wasPaused: boolean;
  readonly paused: boolean;
  /** Live workers consuming it (they stop or start fetching within about a second). */
  readonly workers: number;
}

/** `machinery pause --json` and `machinery resume --json`. */
export interface PauseData {
  readonly queues: PauseRow[];
}

function pauseOrResume(pause: boolean): Command {
  const name = pause ? 'pause' : 'resume';
  return {
    name,
    summary: pause ? 'pause queues: their workers stop fetching' : 'resume paused queues',
    usage: '<queue…>',
    description: pause
      ? 'Pauses queues for every worker sharing the control plane: they stop fetching within about a second and hand back what they fetched but had not started; running tasks finish. Producers keep sending, so tasks wait in the queue. A pause lasts until machinery resume, across worker restarts. machinery status and machinery workers show it.'
      : 'Resumes paused queues: their workers fetch again within about a second.',
    options: {},
    examples: pause
      ? ['machinery pause emails', 'machinery pause emails reports --json']
      : ['machinery resume emails', 'machinery resume emails reports --json'],
    async run(ctx): Promise<CommandResult> {
      const queues = [...new Set(ctx.args.map((q) => q.trim()))];
      if (queues.length === 0 || queues.includes('')) {
        throw new MachineryError(
          'ERR_INVALID_ARGUMENT',
          `${name} needs queue names: machinery ${name} <queue…>.`,
        );
      }
      const { control } = await connectControl(ctx, name);
      const before = await Promise.all(queues.map((q) => control.pauses.isPaused(q)));
      for (const q of queues) await (pause ? control.pauses.pause(q) : control.pauses.resume(q));
      const workers = await control.workers.list();
      const rows: PauseRow[] = queues.map((queue, i) => ({
        queue,
        wasPaused: before[i] === true,
        paused: pause,
        workers: workers.filter((w) => w.queue === queue).length,
      }));
      const data: PauseData = { queues: rows };
      return {
        data,
        render(out) {
          for (const r of rows) out.line(describe(r, pause));
        },
      };
    },
  };
}

function describe(r: PauseRow, pause: boolean): string {
  const workers = `${r.workers} live worker${r.workers === 1 ? '' : 's'}`;
  if (pause) {
    return r.wasPaused
      ? `${r.queue} was already paused (${workers})`
      : `paused ${r.queue}: ${workers} stop fetching (machinery resume ${r.queue} undoes it)`;
  }
  return r.wasPaused
    ? `resumed ${r.queue}: ${workers} fetch again`
    : `${r.queue} was not paused (${workers})`;
}

/** `machinery pause <queue…>`. */
export const pauseCommand: Command = pauseOrResume(true);

/** `machinery resume <queue…>`. */
export const resumeCommand: Command = pauseOrResume(false);
