import { MachineryError, parseDuration, type TaskEvent, type TaskEventType } from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { connectControl } from '../control.js';
import { toJson, truncate } from '../format.js';
import { positiveInt, queueList, stringOption } from '../values.js';

const EVENT_TYPES: readonly TaskEventType[] = [
  'sent',
  'received',
  'started',
  'succeeded',
  'failed',
  'retried',
  'revoked',
  'deadLettered',
];

const DEFAULT_WINDOW = '5s';

/** `machinery events` without `--json`: how many events were printed (`--json` prints events only). */
export interface EventsData {
  readonly events: number;
}

/** `machinery events`: the task events stream, for a window of time or until Ctrl-C. */
export const eventsCommand: Command = {
  name: 'events',
  summary: 'task events as they happen (--follow: until Ctrl-C)',
  usage: '',
  interruptible: true,
  description: `Prints task events from the control plane as they happen, one line each: sent, received, started, succeeded, failed, retried, revoked, deadLettered — with the task, its queue, the worker and, where there is one, the error or duration. Events are seen from the moment the command starts (a note on stderr says when). Without --follow it listens for --for (default ${DEFAULT_WINDOW}) and exits 0; with --follow it runs until Ctrl-C, and exits 0 then. --count ends it after n events. --json prints one JSON object per line (NDJSON), as the events arrive.`,
  options: {
    follow: { type: 'boolean', short: 'f', help: 'keep printing until Ctrl-C' },
    for: {
      type: 'string',
      value: 'duration',
      help: `without --follow: how long to listen, e.g. 30s, 2m (default ${DEFAULT_WINDOW})`,
    },
    count: { type: 'string', value: 'n', help: 'stop after n events' },
    queue: { type: 'string', multiple: true, value: 'a,b', help: 'only events of tasks on these queues' },
    type: {
      type: 'string',
      multiple: true,
      value: 'type',
      help: 'only these event types, e.g. failed,revoked (repeatable)',
    },
    task: { type: 'string', multiple: true, value: 'uuid', help: 'only events of these tasks (repeatable)' },
  },
  examples: [
    'machinery events --follow',
    'machinery events --follow --queue emails --type failed,revoked',
    'machinery events --for 30s --json > events.ndjson',
    'machinery events --task task_0b5d… --type succeeded,failed --count 1 --follow',
  ],
  async run(ctx): Promise<CommandResult> {
    const follow = ctx.options.follow === true;
    const windowText = stringOption(ctx.options, 'for');
    if (follow && windowText !== undefined) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        '--for and --follow exclude each other: --follow has no end.',
      );
    }
    const windowMs = duration(windowText ?? DEFAULT_WINDOW);
    const count = positiveInt(ctx.options, 'count', Number.POSITIVE_INFINITY);
    const queues = queueList(ctx.options);
    const types = typeList(ctx.options.type);
    const tasks = listOf(ctx.options.task);
    const json = ctx.options.json === true;
    const matches = (e: TaskEvent) =>
      (queues.length === 0 || queues.includes(e.queue)) &&
      (types.length === 0 || types.includes(e.type)) &&
      (tasks.length === 0 || tasks.includes(e.taskUUID));

    const { control, url } = await connectControl(ctx, 'events');
    let printed = 0;
    let timer: NodeJS.Timeout | undefined;
    let finish = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const unsubscribe = await control.events.subscribe((event) => {
      if (printed >= count || !matches(event)) return;
      printed++;
      ctx.out.line(json ? toJson(event) : eventLine(event));
      if (printed >= count) finish();
    });
    try {
      ctx.signal.addEventListener('abort', finish, { once: true });
      if (ctx.signal.aborted) finish();
      if (!follow) timer = setTimeout(finish, windowMs);
      ctx.out.error(
        `machinery: ${follow ? 'following' : `listening for ${windowText ?? DEFAULT_WINDOW} to`} task events on ${url}${follow ? ' (Ctrl-C stops)' : ''}`,
      );
      await finished;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', finish);
      await unsubscribe();
    }
    if (!json && printed === 0) ctx.out.error('machinery: no events');
    const data: EventsData = { events: printed };
    return { data, streamed: true, render: () => {} };
  },
};

/** One event for a person: time, type, task, queue, worker, then what the type carries. */
function eventLine(e: TaskEvent): string {
  const parts = [
    new Date(e.at).toISOString(),
    e.type.padEnd(12),
    e.taskName || '(unnamed)',
    e.taskUUID,
    `queue=${e.queue || '(default)'}`,
  ];
  if (e.workerId !== undefined) parts.push(`worker=${e.workerId}`);
  if (e.durationMs !== undefined) parts.push(`${e.durationMs.toFixed(1)} ms`);
  if (e.delayMs !== undefined) parts.push(`again in ${Math.round(e.delayMs)} ms`);
  if (e.error !== undefined && e.error !== '') parts.push(`error: ${truncate(e.error, 200)}`);
  return parts.join('  ');
}

function duration(text: string): number {
  try {
    const ms = parseDuration(text.trim());
    if (ms > 0) return ms;
  } catch {
    // Reported below, in the CLI's words.
  }
  throw new MachineryError('ERR_INVALID_ARGUMENT', `--for ${text} is not a duration: use 10s, 2m or 500ms.`);
}

function listOf(raw: unknown): string[] {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return [
    ...new Set(
      values
        .flatMap((v) => String(v).split(','))
        .map((v) => v.trim())
        .filter((v) => v !== ''),
    ),
  ];
}

function typeList(raw: unknown): TaskEventType[] {
  const names = listOf(raw);
  const bad = names.filter((n) => !EVENT_TYPES.includes(n as TaskEventType));
  if (bad.length > 0) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `--type ${bad.join(', ')}: not an event type; use ${EVENT_TYPES.join(', ')}.`,
    );
  }
  return names as TaskEventType[];
}
