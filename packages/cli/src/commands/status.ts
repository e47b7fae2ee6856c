import type { Broker } from '@machinery/core';
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
  /** Always `null` until the control plane exists. */
  readonly paused: null;
  /** Always `null` until the control plane exists. */
  readonly workers: null;
}

/** `machinery status --json`. */
export interface StatusData {
  readonly broker: string;
  readonly backend: string;
  readonly limit: number;
  readonly queues: QueueStatus[];
  /** Why a column is `null`, by column. */
  readonly unavailable: Record<string, string>;
}

/** `machinery status`: pending, delayed and dead-letter counts per queue. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'pending, delayed and dead-letter counts per queue',
  usage: '',
  description:
    'Counts the tasks waiting in each queue, those waiting for their ETA and the dead letters. Without --queue it shows the default queue and every queue that has delayed tasks or dead letters. Counts are read by listing at most --limit items; a capped count shows as 1000+. Columns the broker cannot list show n/a; "paused" and "workers" need the control plane and show —.',
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
    const connection = await ctx.connect(first !== undefined ? { defaultQueue: first } : {});
    const broker = connection.broker;
    const caps = broker.capabilities;

    const delayed = caps.delayedInspection ? await broker.delayedTasks(limit) : null;
    const dead = caps.deadLetterInspection ? await broker.deadLetters(limit) : null;
    const queueOf = (routingKey: string) => routingKey || broker.defaultQueue;
    const queues =
      asked.length > 0
        ? asked
        : [
            ...new Set([
              broker.defaultQueue,
              ...(delayed ?? []).map((s) => queueOf(s.routingKey)),
              ...(dead ?? []).map((d) => d.queue),
            ]),
          ];

    // SQS keeps one dead-letter queue per queue and reads the default queue's (and those it used):
    // another queue's dead letters need a broker whose default queue it is.
    const perQueueDeadLetters = /^(sqs|https):/i.test(connection.urls.broker);
    const rows: QueueStatus[] = [];
    for (const queue of queues) {
      let letters = dead;
      if (perQueueDeadLetters && dead !== null && queue !== broker.defaultQueue) {
        letters = await (await ctx.connect({ defaultQueue: queue })).broker.deadLetters(limit);
      }
      rows.push({
        queue,
        pending: await pendingCount(broker, queue, limit),
        delayed:
          delayed === null
            ? null
            : countOf(delayed.filter((s) => queueOf(s.routingKey) === queue).length, delayed.length, limit),
        deadLetters:
          letters === null
            ? null
            : countOf(letters.filter((d) => d.queue === queue).length, letters.length, limit),
        paused: null,
        workers: null,
      });
    }
    const unavailable: Record<string, string> = {};
    if (!caps.pendingInspection) unavailable.pending = 'the broker cannot list pending tasks';
    if (!caps.delayedInspection) unavailable.delayed = 'the broker cannot list delayed tasks';
    if (!caps.deadLetterInspection) unavailable.deadLetters = 'the broker cannot list dead letters';
    unavailable.paused = 'needs the control plane';
    unavailable.workers = 'needs the control plane';

    const data: StatusData = {
      broker: connection.urls.broker,
      backend: connection.urls.backend,
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
            '—',
            '—',
          ]),
        );
        out.line();
        const missing = (['pending', 'delayed', 'deadLetters'] as const).filter((k) => unavailable[k]);
        for (const k of missing) out.line(`n/a (${unavailable[k]})`);
        if (rows.some((r) => [r.pending, r.delayed, r.deadLetters].some((c) => c !== null && !c.complete))) {
          out.line(`${limit}+ at least ${limit}: counting stops at --limit ${limit}`);
        }
        out.line('—   paused and workers need the control plane (not available yet)');
      },
    };
  },
};

async function pendingCount(broker: Broker, queue: string, limit: number): Promise<Count | null> {
  if (!broker.capabilities.pendingInspection) return null;
  const tasks = await broker.pendingTasks(queue, limit);
  return countOf(tasks.length, tasks.length, limit);
}
