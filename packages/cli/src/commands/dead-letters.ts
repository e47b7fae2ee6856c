import { cannot } from '../cannot.js';
import type { Command, CommandResult } from '../command.js';
import { truncate } from '../format.js';
import { type DeadLetterRow, deadLetterRow } from '../task-rows.js';
import { positiveInt, queueList } from '../values.js';
import { DEFAULT_LIST_LIMIT } from './pending.js';

/** `machinery dead-letters --json`. */
export interface DeadLettersData {
  /** The queue filtered on, `null` for all queues. */
  readonly queue: string | null;
  readonly limit: number;
  readonly deadLetters: DeadLetterRow[];
}

/** `machinery dead-letters`: messages that could not be processed, with the reason. */
export const deadLettersCommand: Command = {
  name: 'dead-letters',
  summary: 'messages that could not be processed, with the reason',
  usage: '',
  description:
    'Lists the dead letters, oldest first: messages that are not valid Machinery tasks, tasks no worker has registered (after bounded requeues), and messages delivered too often. Each shows the queue it came from and why it was dead-lettered; --json adds the raw body. machinery requeue moves them back. On SQS the dead-letter queue of the default queue (or of --queue) is read.',
  options: {
    queue: { type: 'string', value: 'queue', help: 'only dead letters from this queue' },
    limit: {
      type: 'string',
      value: 'n',
      help: `read at most n dead letters (default ${DEFAULT_LIST_LIMIT})`,
    },
  },
  examples: ['machinery dead-letters', 'machinery dead-letters --queue emails --json'],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', DEFAULT_LIST_LIMIT);
    const [queue] = queueList(ctx.options);
    const connection = await ctx.connect(queue !== undefined ? { defaultQueue: queue } : {});
    const broker = connection.broker;
    if (!broker.capabilities.deadLetterInspection) throw cannot('list dead letters', connection.urls.broker);
    const letters = (await broker.deadLetters(limit))
      .map((d) => deadLetterRow(d, broker.defaultQueue))
      .filter((d) => queue === undefined || d.queue === queue);
    const data: DeadLettersData = { queue: queue ?? null, limit, deadLetters: letters };
    return {
      data,
      render(out) {
        out.table(
          [{ title: 'AT' }, { title: 'QUEUE' }, { title: 'UUID' }, { title: 'NAME' }, { title: 'REASON' }],
          letters.map((d) => [
            d.at ?? '—',
            d.queue,
            d.task?.uuid ?? '(not a task)',
            d.task?.name ?? '',
            truncate(d.reason, 80),
          ]),
          queue === undefined ? 'no dead letters' : `no dead letters from ${queue}`,
        );
      },
    };
  },
};
