import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Connection } from '@machinery/connect';
import { errorText, isMachineryError, MachineryError, redactText } from '@machinery/core';
import type { ArgToken, Command, CommandContext, OptionSpec, OptionValues } from './command.js';
import { COMMANDS, PLANNED } from './commands.js';
import { type Env, openConnection } from './connection.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { commandHelp, mainHelp } from './help.js';
import { type Io, Output } from './output.js';

/** Where {@link run} reads and writes; the process's own by default. */
export interface RunOptions {
  readonly io?: Io;
  readonly env?: Env;
  /**
   * Aborting it (the binary does on SIGINT and SIGTERM) ends `events` normally with exit code 0, and
   * any other command at once with exit code 130, its connections closed.
   */
  readonly signal?: AbortSignal;
}

// close() of an adapter whose server vanished mid-command can wait on its reconnect loop; the
// command's answer is already printed, so the process must not hang on it.
const CLOSE_TIMEOUT_MS = 3_000;

/**
 * Runs one `machinery` command line (without the `node` and script words) and resolves to its exit
 * code. Output goes to `io`; every connection the command opened is closed before it resolves.
 *
 * @example
 * ```ts
 * process.exitCode = await run(['status', '--json']);
 * ```
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<ExitCode> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr };
  const env = options.env ?? process.env;
  const out = new Output(io);
  const json = argv.includes('--json');

  const fail = (err: unknown): ExitCode => {
    const code = exitCodeOf(err);
    const message = oneLine(redactText(errorText(err)));
    const known = isMachineryError(err);
    out.error(`machinery: ${known ? message : `unexpected error: ${message}`}`);
    if (json) {
      out.json({ error: { code: known ? (err as MachineryError).code : 'ERR_UNEXPECTED', message } });
    }
    return code;
  };

  const name = commandName(argv);
  if (name === undefined) {
    if (argv.includes('--version') || argv.includes('-v')) {
      out.line(version());
      return ExitCode.OK;
    }
    if (argv.includes('--help') || argv.includes('-h')) {
      out.line(mainHelp(version()));
      return ExitCode.OK;
    }
    out.error(mainHelp(version()));
    return ExitCode.USAGE;
  }
  if (name.word === 'help') {
    const target = argv[name.index + 1];
    const command = COMMANDS.find((c) => c.name === target);
    if (target === undefined) out.line(mainHelp(version()));
    else if (command) out.line(commandHelp(command));
    else return fail(unknownCommand(target));
    return ExitCode.OK;
  }
  const command = COMMANDS.find((c) => c.name === name.word);
  if (!command) return fail(unknownCommand(name.word));

  const rest = [...argv.slice(0, name.index), ...argv.slice(name.index + 1)];
  let parsed: { values: OptionValues; args: string[]; tokens: ArgToken[] };
  try {
    parsed = parse(command, rest);
  } catch (err) {
    return fail(
      new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `${command.name}: ${errorText(err)}. See machinery ${command.name} --help.`,
      ),
    );
  }
  if (parsed.values.help === true) {
    out.line(commandHelp(command));
    return ExitCode.OK;
  }

  // One connection per default queue asked for (almost always one): an SQS broker reads the
  // dead-letter queue of its default queue, so a command reading several opens one per queue.
  const connections = new Map<string, Promise<Connection>>();
  const signal = options.signal ?? new AbortController().signal;
  const ctx: CommandContext = {
    args: parsed.args,
    options: parsed.values,
    tokens: parsed.tokens,
    out,
    signal,
    env,
    connect(extra = {}) {
      const key = `${extra.control === true ? 'control' : ''}:${extra.defaultQueue ?? ''}`;
      let opening = connections.get(key);
      if (!opening) {
        opening = openConnection(parsed.values, env, extra);
        connections.set(key, opening);
      }
      return opening;
    },
  };
  try {
    const running = command.run(ctx);
    const result = command.interruptible ? await running : await orInterrupted(running, signal);
    if (result === INTERRUPTED) {
      out.error(`machinery: ${command.name} interrupted`);
      return ExitCode.INTERRUPTED;
    }
    if (result.streamed === true) return result.exitCode ?? ExitCode.OK;
    if (parsed.values.json === true) out.json(result.data);
    else result.render(out);
    return result.exitCode ?? ExitCode.OK;
  } catch (err) {
    return fail(err);
  } finally {
    const opened = await Promise.allSettled(connections.values());
    await Promise.all(
      opened.map((o) => (o.status === 'fulfilled' ? closeWithin(o.value, CLOSE_TIMEOUT_MS) : undefined)),
    );
  }
}

const INTERRUPTED = Symbol('interrupted');

/** `running`, or {@link INTERRUPTED} as soon as `signal` aborts (the command is abandoned). */
function orInterrupted<T>(running: Promise<T>, signal: AbortSignal): Promise<T | typeof INTERRUPTED> {
  if (signal.aborted) {
    running.catch(() => undefined);
    return Promise.resolve(INTERRUPTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(INTERRUPTED);
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function unknownCommand(word: string): MachineryError {
  const planned = PLANNED[word];
  if (planned) {
    return new MachineryError('ERR_INVALID_ARGUMENT', `${word} ${planned}.`);
  }
  return new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `Unknown command "${word}": use one of ${COMMANDS.map((c) => c.name).join(', ')} (machinery --help).`,
  );
}

const STRING_GLOBALS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === 'string')
    .map(([n]) => `--${n}`),
);

/** The first word that is not an option (nor a global option's value): the command. */
function commandName(argv: readonly string[]): { word: string; index: number } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (STRING_GLOBALS.has(a)) i++;
      continue;
    }
    return { word: a, index: i };
  }
  return undefined;
}

function parse(
  command: Command,
  args: string[],
): { values: OptionValues; args: string[]; tokens: ArgToken[] } {
  const specs: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...command.options };
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [n, o] of Object.entries(specs)) {
    options[n] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  const { values, positionals, tokens } = parseArgs({
    args,
    options,
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  const ordered: ArgToken[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') ordered.push({ kind: 'positional', value: t.value });
    else if (t.kind === 'option') ordered.push({ kind: 'option', name: t.name, value: t.value });
  }
  return { values: values as OptionValues, args: positionals, tokens: ordered };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function closeWithin(connection: Connection, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connection.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
