import type { Connection } from '@machinery/connect';
import type { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

/** One option of a command: how `parseArgs` reads it and how `--help` explains it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder in help (`n`, `queue`, `ISO|+10s`). */
  readonly value?: string;
  /** One line for `--help`. */
  readonly help: string;
}

/** Parsed option values, by option name. */
export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** What a command receives. */
export interface CommandContext {
  /** Positional arguments after the command name. */
  readonly args: readonly string[];
  /** Options (the command's and the global ones). */
  readonly options: OptionValues;
  /** Parse tokens of the command line, for commands that need the order of options and positionals. */
  readonly tokens: readonly ArgToken[];
  /**
   * Opens the broker, backend and lock from `--broker`/`--backend`/`--lock` or the environment
   * (once per `defaultQueue`, which overrides the broker's), and with `control: true` the control plane
   * from `--control`/`CONTROL_URL` (default: the backend's server). The caller closes every connection
   * after the command, whatever happens.
   */
  connect(options?: ConnectRequest): Promise<Connection>;
  /** Where a command that prints as it goes (`events`) writes. */
  readonly out: Output;
  /** Aborted on Ctrl-C or SIGTERM: an {@link Command.interruptible} command then ends normally. */
  readonly signal: AbortSignal;
  /** The environment the CLI reads (secrets such as the dashboard token come from here, not from argv). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** What a command asks {@link CommandContext.connect} for. */
export interface ConnectRequest {
  /** Overrides the broker's default queue. */
  readonly defaultQueue?: string;
  /** Also open the control plane (commands that need none leave it closed). */
  readonly control?: boolean;
}

/** A positional argument or an option, in command-line order. */
export type ArgToken =
  | { readonly kind: 'positional'; readonly value: string }
  | { readonly kind: 'option'; readonly name: string; readonly value: string | undefined };

/**
 * What a command produced: `data` is printed as JSON under `--json`, `render` prints it for a
 * person otherwise. A non-zero `exitCode` ends the process with it after printing (a task that
 * failed while `send --wait` waited, say).
 */
export interface CommandResult {
  readonly data: unknown;
  render(out: Output): void;
  readonly exitCode?: ExitCode;
  /** True when the command printed everything as it went (`events`): nothing more is printed. */
  readonly streamed?: boolean;
}

/** One `machinery` subcommand, in its own module under `commands/`. */
export interface Command {
  /** The word after `machinery`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Positional arguments as shown in the usage line (`<uuid>`, `<task> [args…]`). */
  readonly usage: string;
  /** A few sentences for `--help`. */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Command lines shown under `--help`. */
  readonly examples: readonly string[];
  /**
   * True when the command ends by itself, normally, once {@link CommandContext.signal} aborts (Ctrl-C
   * ends `events --follow` with exit code 0). Any other command is abandoned on Ctrl-C with exit code 130.
   */
  readonly interruptible?: boolean;
  run(ctx: CommandContext): Promise<CommandResult>;
}
