import {
  type Broker,
  MachineryError,
  PURGE_PARTS,
  type PurgeCounts,
  type PurgeSupport,
} from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { type Count, countOf, showCount } from '../counts.js';
import { ExitCode } from '../exit-codes.js';
import { positiveInt, queueList } from '../values.js';

/** One part of a queue `purge` can remove. */
export type PurgePart = (typeof PURGE_PARTS)[number];

const DEFAULT_COUNT_LIMIT = 1000;

const LABELS: Record<PurgePart, string> = {
  pending: 'pending',
  delayed: 'delayed',
  deadLetters: 'dead letters',
};

const FLAGS: Record<PurgePart, string> = {
  pending: '--pending',
  delayed: '--delayed',
  deadLetters: '--dead-letters',
};

/** `machinery purge --json` without `--yes`: what would be removed; nothing was. */
export interface PurgePreviewData {
  readonly dryRun: true;
  readonly broker: string;
  readonly queue: string;
  readonly parts: PurgePart[];
  /** Per part asked for: how many would go (`null` when the broker cannot list that part). */
  readonly wouldRemove: Partial<Record<PurgePart, Count | null>>;
  /** Parts left out because the broker cannot purge them (only when no part was named). */
  readonly skipped: PurgePart[];
}

/** `machinery purge --yes --json`: what was removed. */
export interface PurgeDoneData {
  readonly dryRun: false;
  readonly broker: string;
  readonly queue: string;
  readonly parts: PurgePart[];
  readonly removed: PurgeCounts;
  readonly skipped: PurgePart[];
}

/** `machinery purge`: removes a queue's pending tasks, delayed tasks and/or dead letters. */
export const purgeCommand: Command = {
  name: 'purge',
  summary: 'remove the pending tasks, delayed tasks or dead letters of a queue',
  usage: '',
  description:
    'Removes, from one queue (the default queue unless --queue), its pending tasks, its delayed tasks and/or its dead letters — those named by --pending, --delayed and --dead-letters, or, naming none, every part the broker can purge. Tasks a worker holds are not removed: they finish, or come back if their worker dies. Other queues are untouched. Result states do not change: a purged task stays PENDING in the backend, as with Celery. Without --yes nothing is removed: it prints what would be, counted by listing at most --limit items (1000+ when capped, n/a where the broker cannot list that part), and exits with code 2. SQS cannot purge delayed tasks, which it hides until they are due.',
  options: {
    queue: { type: 'string', value: 'queue', help: 'queue to purge (default: the broker default)' },
    pending: { type: 'boolean', help: 'remove the tasks waiting in the queue' },
    delayed: { type: 'boolean', help: 'remove the tasks waiting for their ETA (delayed retries too)' },
    'dead-letters': { type: 'boolean', help: 'remove the dead letters that came from the queue' },
    yes: { type: 'boolean', short: 'y', help: 'really remove them (without it: only show what would go)' },
    limit: {
      type: 'string',
      value: 'n',
      help: `without --yes, count at most n items per part (default ${DEFAULT_COUNT_LIMIT})`,
    },
  },
  examples: [
    'machinery purge --queue emails',
    'machinery purge --queue emails --yes',
    'machinery purge --dead-letters --yes --json',
  ],
  async run(ctx): Promise<CommandResult> {
    const limit = positiveInt(ctx.options, 'limit', DEFAULT_COUNT_LIMIT);
    const asked = queueList(ctx.options);
    if (asked.length > 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `purge works on one queue at a time (got --queue ${asked.join(',')}): run it once per queue.`,
      );
    }
    const named = PURGE_PARTS.filter((p) => ctx.options[optionOf(p)] === true);
    const [first] = asked;
    const connection = await ctx.connect(first !== undefined ? { defaultQueue: first } : {});
    const broker = connection.broker;
    const where = connection.urls.broker;
    const queue = first ?? broker.defaultQueue;
    const support = broker.capabilities.purge;
    if (!support || typeof broker.purge !== 'function') {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `The broker ${where} cannot purge queues: its adapter has no purge operation.`,
      );
    }
    const { parts, skipped } = choose(named, support, where);

    if (ctx.options.yes !== true) {
      const wouldRemove: Partial<Record<PurgePart, Count | null>> = {};
      for (const part of parts) wouldRemove[part] = await count(broker, queue, part, limit);
      const data: PurgePreviewData = { dryRun: true, broker: where, queue, parts, wouldRemove, skipped };
      return {
        data,
        exitCode: ExitCode.USAGE,
        render(out) {
          out.line(`would remove from ${queue} (${where}):`);
          out.fields(parts.map((p) => [`  ${LABELS[p]}`, showCount(wouldRemove[p] ?? null)]));
          noteSkipped(out, skipped);
          if (parts.some((p) => wouldRemove[p] === null)) {
            out.line('n/a: the broker cannot list this part, so it cannot say how many');
          }
          out.line(`nothing was removed: run again with --yes to purge (${flagsOf(parts)})`);
        },
      };
    }

    const options = Object.fromEntries(parts.map((p) => [p, true]));
    const removed = await broker.purge(queue, options);
    const data: PurgeDoneData = { dryRun: false, broker: where, queue, parts, removed, skipped };
    return {
      data,
      render(out) {
        out.line(`removed from ${queue}: ${parts.map((p) => `${removed[p]} ${LABELS[p]}`).join(', ')}`);
        noteSkipped(out, skipped);
      },
    };
  },
};

function optionOf(part: PurgePart): string {
  return FLAGS[part].slice(2);
}

function flagsOf(parts: readonly PurgePart[]): string {
  return parts.map((p) => FLAGS[p]).join(' ');
}

/**
 * The parts to purge: those named (each must be supported), else every part the broker supports —
 * the others reported as skipped, so that "everything" never silently means less.
 */
function choose(
  named: readonly PurgePart[],
  support: PurgeSupport,
  where: string,
): { parts: PurgePart[]; skipped: PurgePart[] } {
  if (named.length > 0) {
    const unsupported = named.filter((p) => !support[p]);
    if (unsupported.length > 0) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `The broker ${where} cannot purge ${unsupported.map((p) => LABELS[p]).join(' or ')}: leave out ${flagsOf(unsupported)}.`,
      );
    }
    return { parts: [...named], skipped: [] };
  }
  return {
    parts: PURGE_PARTS.filter((p) => support[p]),
    skipped: PURGE_PARTS.filter((p) => !support[p]),
  };
}

function noteSkipped(out: { line(text: string): void }, skipped: readonly PurgePart[]): void {
  if (skipped.length > 0) {
    out.line(`not purged: ${skipped.map((p) => LABELS[p]).join(', ')} (the broker cannot purge them)`);
  }
}

/** How many items of `part` the queue has, read through the broker's inspection; `null` where it has none. */
async function count(broker: Broker, queue: string, part: PurgePart, limit: number): Promise<Count | null> {
  const caps = broker.capabilities;
  if (part === 'pending') {
    if (!caps.pendingInspection) return null;
    const tasks = await broker.pendingTasks(queue, limit);
    return countOf(tasks.length, tasks.length, limit);
  }
  if (part === 'delayed') {
    if (!caps.delayedInspection) return null;
    const tasks = await broker.delayedTasks(limit);
    const mine = tasks.filter((s) => (s.routingKey || broker.defaultQueue) === queue);
    return countOf(mine.length, tasks.length, limit);
  }
  if (!caps.deadLetterInspection) return null;
  const letters = await broker.deadLetters(limit);
  const mine = letters.filter((d) => (d.queue || broker.defaultQueue) === queue);
  return countOf(mine.length, letters.length, limit);
}
