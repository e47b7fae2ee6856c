import { inspectQueues } from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { type Count, countOf, showCount } from '../counts.js';
import { positiveInt, queueList } from '../values.js';

const DEFAULT_LIMIT = 1000;

/** One queue's row of `machinery status --json`. */
export interface QueueStatus {
  readonly queue: string;
  /** `null` when the broker cannot list pending tasks. */
  readonly pending: Count | null;
  /** `null` when the broker cannot list delayed tasks. */
  readonly delayed: Count | null;
  /** `null` when the broker cannot list dead letters. */
  readonly deadLetters: Count | null;
  /** Whether its workers are paused; `null` without a control plane. */
  readonly paused: boolean | null;
  /** Live workers consuming it; `null` without a control plane. */
  readonly workers: number | null;
}

/** `machinery status --json`. */
export interface StatusData {
  readonly broker: string;
  readonly backend: string;
  /** The control plane read, password masked; `null` without one (`--control none`). */
  readonly control: string | null;
  /** Live workers on every queue; `null` without a control plane. */
  readonly liveWorkers: number | null;
  readonly limit: number;
  readonly queues: QueueStatus[];
  /** Why a column is `null`, by column. */
  readonly unavailable: Record<string, string>;
}

/** `machinery status`: pending, delayed and dead-letter counts per queue. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'pending, delayed and dead-letter counts, paused or not, live workers, per queue',
  usage: '',
  description:
    'Counts the tasks waiting in each queue, those waiting for their ETA and the dead letters, and shows from the control plane whether the queue is paused and how many live workers consume it. Without --queue it shows the default queue and every queue that has delayed tasks, dead letters, live workers or a pause. Counts are read by listing at most --limit items; a capped count shows as 1000+. Columns the broker cannot list show n/a; without a control plane (--control none) PAUSED and WORKERS show —.',
  options: {
    queue: { type: 'string', multiple: true, value: 'a,b', help: 'queues to show (default: see above)' },
    limit: {
      type: 'string',
      value: 'n',
      help: `list at most n items per count (default ${DEFAULT_LIMIT})`,
    },
  },
  examples: ['machinery status', 'machinery status --queue emails,reports --json'],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', DEFAULT_LIMIT);
    const asked = queueList(ctx.options);
    const [first] = asked;
    const connection = await ctx.connect(
      first !== undefined ? { defaultQueue: first, control: true } : { control: true },
    );
    const broker = connection.broker;
    const caps = broker.capabilities;
    const control = connection.control;
    const read = await inspectQueues(broker, control, { queues: asked, limit });

    // SQS keeps one dead-letter queue per queue and reads the default queue's (and those it used):
    // another queue's dead letters need a broker whose default queue it is.
    const perQueueDeadLetters = /^(sqs|https):/i.test(connection.urls.broker);
    const rows: QueueStatus[] = [];
    for (const row of read.queues) {
      if (perQueueDeadLetters && row.deadLetters !== null && row.queue !== broker.defaultQueue) {
        const letters = await (await ctx.connect({ defaultQueue: row.queue })).broker.deadLetters(limit);
        rows.push({
          ...row,
          deadLetters: countOf(letters.filter((d) => d.queue === row.queue).length, letters.length, limit),
        });
      } else {
        rows.push(row);
      }
    }
    const unavailable: Record<string, string> = {};
    if (!caps.pendingInspection) unavailable.pending = 'the broker cannot list pending tasks';
    if (!caps.delayedInspection) unavailable.delayed = 'the broker cannot list delayed tasks';
    if (!caps.deadLetterInspection) unavailable.deadLetters = 'the broker cannot list dead letters';
    if (control === undefined) {
      unavailable.paused = 'no control plane';
      unavailable.workers = 'no control plane';
    }

    const data: StatusData = {
      broker: connection.urls.broker,
      backend: connection.urls.backend,
      control: connection.urls.control ?? null,
      liveWorkers: read.liveWorkers,
      limit,
      queues: rows,
      unavailable,
    };
    return {
      data,
      render(out) {
        out.fields([
          ['broker', data.broker],
          ['backend', data.backend],
          ['control', data.control ?? 'none'],
          ['workers', data.liveWorkers === null ? '—' : `${data.liveWorkers} live`],
        ]);
        out.line();
        out.table(
          [
            { title: 'QUEUE' },
            { title: 'PENDING', align: 'right' },
            { title: 'DELAYED', align: 'right' },
            { title: 'DEAD', align: 'right' },
            { title: 'PAUSED' },
            { title: 'WORKERS' },
          ],
          rows.map((r) => [
            r.queue,
            showCount(r.pending),
            showCount(r.delayed),
            showCount(r.deadLetters),
            r.paused === null ? '—' : r.paused ? 'yes' : 'no',
            r.workers === null ? '—' : String(r.workers),
          ]),
        );
        const notes: string[] = [];
        const missing = (['pending', 'delayed', 'deadLetters'] as const).filter((k) => unavailable[k]);
        for (const k of missing) notes.push(`n/a (${unavailable[k]})`);
        if (rows.some((r) => [r.pending, r.delayed, r.deadLetters].some((c) => c !== null && !c.complete))) {
          notes.push(`${limit}+ at least ${limit}: counting stops at --limit ${limit}`);
        }
        if (control === undefined) notes.push('—   paused and workers: no control plane');
        if (notes.length > 0) out.line();
        for (const note of notes) out.line(note);
      },
    };
  },
};
