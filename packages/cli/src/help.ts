import type { Command, OptionSpec } from './command.js';
import { COMMANDS } from './commands.js';
import { GLOBAL_OPTIONS } from './global-options.js';

/** `machinery --help`. */
export function mainHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `machinery ${version} — inspect and feed Machinery task queues (Redis, RabbitMQ, SQS, …)`,
    '',
    'Usage: machinery <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Environment: BROKER_URL, RESULT_BACKEND_URL, LOCK_URL, CONTROL_URL, QUEUE, AMQP_EXCHANGE,',
    'AMQP_EXCHANGE_TYPE, AMQP_BINDING_KEY (--broker, --backend, --lock, --control win over them).',
    '',
    'Exit codes: 0 ok, 1 service or operation error, 2 usage or configuration error, 3 not found,',
    '130 interrupted (Ctrl-C; events ends that way with 0).',
    '',
    'Run machinery <command> --help for a command.',
  ].join('\n');
}

/** `machinery <command> --help`. */
export function commandHelp(command: Command): string {
  const usage = ['machinery', command.name, command.usage, '[options]'].filter((s) => s !== '').join(' ');
  const lines = [`Usage: ${usage}`, '', ...wrap(command.description, 100), ''];
  if (Object.keys(command.options).length > 0) {
    lines.push('Options:', ...optionLines(command.options), '');
  }
  lines.push('Options of every command:', ...optionLines(GLOBAL_OPTIONS), '');
  lines.push('Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const heads = Object.entries(options).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '';
    return [`  ${short}--${name}${o.value ? ` <${o.value}>` : ''}`, o.help] as const;
  });
  const w = Math.max(...heads.map(([h]) => h.length));
  return heads.map(([h, help]) => `${h.padEnd(w)}  ${help}`);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
