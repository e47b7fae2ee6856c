import {
  isMachineryError,
  MachineryError,
  resultValue,
  Server,
  signature,
  type TaskState,
} from '@machinery/core';
import type { Command, CommandResult } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { jsonDate, showValue, toJson } from '../format.js';
import { parseArgValue, parseEta, parseTypedArg, positiveInt, queueList, stringOption } from '../values.js';

const DEFAULT_WAIT_MS = 60_000;

/** `machinery send --json`. */
export interface SendData {
  readonly uuid: string;
  readonly name: string;
  readonly queue: string;
  readonly eta: string | null;
  /** Wire arguments as sent. */
  readonly args: { type: string; value: unknown }[];
  /** With `--wait`: the final state (`SUCCESS` or `FAILURE`), its results and error. */
  readonly outcome?: {
    readonly state: string;
    readonly results: { type: string; value: unknown }[] | null;
    readonly error: string | null;
  };
}

/** `machinery send`: sends one task and prints its UUID. */
export const sendCommand: Command = {
  name: 'send',
  summary: 'send a task; print its UUID (--wait: its result)',
  usage: '<task> [args…]',
  description:
    'Sends the task <task> with the given arguments: each is read as JSON where it parses (5 is an int64, 1.5 a float64, true a bool, [1,2] an []int64, {"a":1} a json object, \'"5"\' the string 5) and as a string otherwise. --type TYPE:VALUE adds an argument of an explicit Go type in its place among the others (int64:5, uint32:640, float64:1, string:007). Put -- before arguments that start with a dash (machinery send add -- -1 2). The state PENDING is stored, then the task is published; --wait waits for SUCCESS or FAILURE.',
  options: {
    queue: { type: 'string', value: 'queue', help: 'queue to send to (default: the broker default)' },
    eta: { type: 'string', value: 'ISO|+10s', help: 'run no earlier than this time, or after this delay' },
    type: {
      type: 'string',
      multiple: true,
      value: 'TYPE:VALUE',
      help: 'an argument with an explicit Go type (repeatable)',
    },
    'retry-count': { type: 'string', value: 'n', help: 'automatic retries on failure (default 0)' },
    wait: { type: 'boolean', help: 'wait for the result and print it' },
    timeout: {
      type: 'string',
      value: 'ms',
      help: `with --wait: give up after ms (default ${DEFAULT_WAIT_MS})`,
    },
  },
  examples: [
    'machinery send add 1 2',
    'machinery send greet Ada --queue emails --eta +10s',
    'machinery send resize --type uint32:640 --type uint32:480 --wait --timeout 5000',
  ],
  async run(ctx): Promise<CommandResult> {
    const name = ctx.args[0];
    if (name === undefined || name === '') {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        'send needs a task name: machinery send <task> [args…].',
      );
    }
    // Arguments in command-line order, --type ones among the positionals where they were written.
    const values: unknown[] = [];
    let seenName = false;
    for (const t of ctx.tokens) {
      if (t.kind === 'positional') {
        if (seenName) values.push(parseArgValue(t.value));
        seenName = true;
      } else if (t.name === 'type' && t.value !== undefined) {
        values.push(parseTypedArg(t.value));
      }
    }
    const [queue] = queueList(ctx.options);
    const etaText = stringOption(ctx.options, 'eta');
    const eta = etaText === undefined ? null : parseEta(etaText);
    const retryCount = positiveIntOrZero(stringOption(ctx.options, 'retry-count'));
    const wait = ctx.options.wait === true;
    const timeoutMs = positiveInt(ctx.options, 'timeout', DEFAULT_WAIT_MS);
    if (!wait && ctx.options.timeout !== undefined) {
      throw new MachineryError('ERR_INVALID_ARGUMENT', '--timeout only applies with --wait.');
    }
    const sig = signature(name, values, { routingKey: queue ?? '', eta, retryCount });

    // With the control plane, so that followers of `machinery events` see the task sent.
    const connection = await ctx.connect({ control: true });
    // The Server writes PENDING and publishes through the same path as every producer (middleware
    // included); it does not own the connection here: the caller closes it.
    const server = new Server({
      broker: connection.broker,
      backend: connection.backend,
      lock: connection.lock,
      ...(connection.control !== undefined ? { control: connection.control } : {}),
    });
    const result = await server.send(sig);
    await server.flushEvents();
    const sent = {
      uuid: sig.uuid,
      name,
      queue: sig.routingKey || connection.broker.defaultQueue,
      eta: jsonDate(sig.eta),
      args: (sig.args ?? []).map((a) => ({ type: a.type, value: a.value })),
    };
    if (!wait) {
      const data: SendData = sent;
      return { data, render: (out) => out.line(sig.uuid) };
    }
    let state: TaskState;
    try {
      state = await result.wait({ timeoutMs });
    } catch (err) {
      if (isMachineryError(err, 'ERR_RESULT_TIMEOUT')) {
        throw new MachineryError(
          'ERR_RESULT_TIMEOUT',
          `Sent ${sig.uuid}, but it did not finish within ${timeoutMs} ms: is a worker running that has "${name}" registered? (machinery task ${sig.uuid} shows its state later.)`,
          { cause: err },
        );
      }
      throw err;
    }
    const data: SendData = {
      ...sent,
      outcome: {
        state: state.state,
        results: state.results === null ? null : state.results.map((r) => ({ type: r.type, value: r.value })),
        error: state.state === 'FAILURE' ? state.error : null,
      },
    };
    const failed = state.state === 'FAILURE';
    return {
      data,
      exitCode: failed ? ExitCode.FAILURE : ExitCode.OK,
      render(out) {
        out.fields([
          ['uuid', sig.uuid],
          ['state', state.state],
          failed ? ['error', state.error] : ['result', showResult(state)],
        ]);
      },
    };
  },
};

function showResult(state: TaskState): string {
  if (state.results === null || state.results.length === 0) return '(none)';
  try {
    return toJson(resultValue(state.results)) ?? '(none)';
  } catch {
    return state.results.map(showValue).join(', ');
  }
}

function positiveIntOrZero(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text.trim())) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `--retry-count ${text} is not a whole number: pass e.g. --retry-count 3.`,
    );
  }
  return Number(text);
}
