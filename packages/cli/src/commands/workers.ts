import type { WorkerInfo } from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { ago, connectControl } from '../control.js';
import { queueList } from '../values.js';

/** One worker in `machinery workers --json`: what it last reported, and how old that report is. */
export interface WorkerRow extends WorkerInfo {
  /** Time since its last heartbeat, in ms. */
  readonly heartbeatAgeMs: number;
}

/** `machinery workers --json`. */
export interface WorkersData {
  /** The control plane read, password masked. */
  readonly control: string;
  readonly workers: WorkerRow[];
}

/** `machinery workers`: the live workers. */
export const workersCommand: Command = {
  name: 'workers',
  summary: 'live workers: queue, concurrency, running tasks, heartbeat',
  usage: '',
  description:
    'Lists the workers whose heartbeat is live in the control plane: each beats every heartbeatMs (5 s by default) and is listed until three beats are missed, so a worker that crashed disappears by itself. RUNNING is how many tasks it runs now, DONE/FAILED what it finished since it started.',
  options: {
    queue: { type: 'string', multiple: true, value: 'a,b', help: 'only workers of these queues' },
  },
  examples: ['machinery workers', 'machinery workers --queue emails --json'],
  async run(ctx): Promise<CommandResult> {
    const queues = queueList(ctx.options);
    const { control, url } = await connectControl(ctx, 'workers');
    const now = Date.now();
    const rows: WorkerRow[] = (await control.workers.list())
      .filter((w) => queues.length === 0 || queues.includes(w.queue))
      .map((w) => ({ ...w, heartbeatAgeMs: Math.max(0, now - w.heartbeatAt) }));
    const data: WorkersData = { control: url, workers: rows };
    return {
      data,
      render(out) {
        out.table(
          [
            { title: 'ID' },
            { title: 'HOST' },
            { title: 'PID', align: 'right' },
            { title: 'QUEUE' },
            { title: 'CONC', align: 'right' },
            { title: 'RUNNING', align: 'right' },
            { title: 'DONE/FAILED', align: 'right' },
            { title: 'PAUSED' },
            { title: 'HEARTBEAT' },
            { title: 'VERSION' },
          ],
          rows.map((w) => [
            w.id,
            w.host,
            String(w.pid),
            w.queue,
            String(w.concurrency),
            String(w.running.length),
            `${w.processed}/${w.failed}`,
            w.paused ? 'yes' : 'no',
            ago(w.heartbeatAt, now),
            w.version,
          ]),
          queues.length === 0 ? 'no live workers' : `no live workers on ${queues.join(', ')}`,
        );
      },
    };
  },
};
