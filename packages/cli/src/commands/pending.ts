import { cannot } from '../cannot.js';
import type { Command, CommandResult } from '../command.js';
import { summarizeArgs } from '../format.js';
import { type TaskRow, taskRow } from '../task-rows.js';
import { positiveInt, queueList } from '../values.js';

/** The default `--limit` of the listing commands. */
export const DEFAULT_LIST_LIMIT = 100;

/** `machinery pending --json`. */
export interface PendingData {
  readonly queue: string;
  readonly limit: number;
  readonly tasks: TaskRow[];
}

/** `machinery pending`: the tasks waiting in a queue, oldest first. */
export const pendingCommand: Command = {
  name: 'pending',
  summary: 'tasks waiting in a queue, oldest first',
  usage: '',
  description:
    'Lists the tasks waiting in one queue (the default queue unless --queue), oldest first, without taking them. Tasks a worker holds are not waiting and are not listed. On RabbitMQ the listing reads each message and puts it back, so the messages are then flagged redelivered. SQS cannot list its queues without hiding the messages from workers.',
  options: {
    queue: { type: 'string', value: 'queue', help: 'queue to list (default: the broker default)' },
    limit: { type: 'string', value: 'n', help: `list at most n tasks (default ${DEFAULT_LIST_LIMIT})` },
  },
  examples: ['machinery pending', 'machinery pending --queue emails --limit 20 --json'],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', DEFAULT_LIST_LIMIT);
    const [asked] = queueList(ctx.options);
    const connection = await ctx.connect(asked !== undefined ? { defaultQueue: asked } : {});
    const broker = connection.broker;
    const queue = asked ?? broker.defaultQueue;
    if (!broker.capabilities.pendingInspection) {
      throw cannot('list pending tasks', connection.urls.broker);
    }
    const tasks = (await broker.pendingTasks(queue, limit)).map((s) => taskRow(s, broker.defaultQueue));
    const data: PendingData = { queue, limit, tasks };
    return {
      data,
      render(out) {
        out.table(
          [{ title: 'UUID' }, { title: 'NAME' }, { title: 'ARGS' }, { title: 'RETRIES', align: 'right' }],
          tasks.map((t) => [t.uuid, t.name, summarizeArgs(t.args), String(t.retryCount)]),
          `no pending tasks in ${queue}`,
        );
        if (tasks.length === limit) out.line(`(first ${limit}; --limit shows more)`);
      },
    };
  },
};
