import { cannot } from '../cannot.js';
import type { Command, CommandResult } from '../command.js';
import { positiveInt } from '../values.js';

/** `machinery requeue --json`. */
export interface RequeueData {
  /** How many dead letters went back to their queues. */
  readonly requeued: number;
}

/** `machinery requeue`: moves dead letters back to their queues. */
export const requeueCommand: Command = {
  name: 'requeue',
  summary: 'move dead letters back to their queues',
  usage: '',
  description:
    'Moves dead letters, oldest first, back to the queues they came from (to the tail), where workers take them again. A message that still cannot be processed comes back to the dead letters. Without --limit, every dead letter is moved.',
  options: {
    limit: { type: 'string', value: 'n', help: 'move at most n dead letters (default: all)' },
  },
  examples: ['machinery requeue', 'machinery requeue --limit 10 --json'],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', Number.POSITIVE_INFINITY);
    const connection = await ctx.connect();
    const broker = connection.broker;
    if (!broker.capabilities.deadLetterInspection) {
      throw cannot('requeue dead letters', connection.urls.broker);
    }
    const requeued = await broker.requeueDeadLetters(limit);
    const data: RequeueData = { requeued };
    return {
      data,
      render(out) {
        out.line(
          requeued === 0
            ? 'no dead letters to requeue'
            : `requeued ${requeued} dead letter${requeued === 1 ? '' : 's'}`,
        );
      },
    };
  },
};
