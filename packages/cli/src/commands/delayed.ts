import { cannot } from '../cannot.js';
import type { Command, CommandResult } from '../command.js';
import { summarizeArgs } from '../format.js';
import { type TaskRow, taskRow } from '../task-rows.js';
import { positiveInt, queueList } from '../values.js';
import { DEFAULT_LIST_LIMIT } from './pending.js';

/** `machinery delayed --json`. */
export interface DelayedData {
  /** The queue filtered on, `null` for all queues. */
  readonly queue: string | null;
  readonly limit: number;
  readonly tasks: TaskRow[];
}

/** `machinery delayed`: tasks waiting for their ETA, earliest first. */
export const delayedCommand: Command = {
  name: 'delayed',
  summary: 'tasks waiting for their ETA, earliest first',
  usage: '',
  description:
    'Lists the tasks waiting for their ETA (sent with an ETA, or retrying after a back-off), earliest first, in every queue or only in --queue. --limit caps the listing before the queue filter (the broker keeps one delay store for all queues).',
  options: {
    queue: { type: 'string', value: 'queue', help: 'only tasks bound for this queue' },
    limit: { type: 'string', value: 'n', help: `read at most n tasks (default ${DEFAULT_LIST_LIMIT})` },
  },
  examples: ['machinery delayed', 'machinery delayed --queue emails --json'],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', DEFAULT_LIST_LIMIT);
    const [queue] = queueList(ctx.options);
    const connection = await ctx.connect();
    const broker = connection.broker;
    if (!broker.capabilities.delayedInspection) throw cannot('list delayed tasks', connection.urls.broker);
    const tasks = (await broker.delayedTasks(limit))
      .map((s) => taskRow(s, broker.defaultQueue))
      .filter((t) => queue === undefined || t.queue === queue);
    const data: DelayedData = { queue: queue ?? null, limit, tasks };
    return {
      data,
      render(out) {
        out.table(
          [{ title: 'ETA' }, { title: 'UUID' }, { title: 'NAME' }, { title: 'QUEUE' }, { title: 'ARGS' }],
          tasks.map((t) => [t.eta ?? '—', t.uuid, t.name, t.queue, summarizeArgs(t.args)]),
          queue === undefined ? 'no delayed tasks' : `no delayed tasks for ${queue}`,
        );
      },
    };
  },
};
