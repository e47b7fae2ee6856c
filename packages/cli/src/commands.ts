import type { Command } from './command.js';
import { deadLettersCommand } from './commands/dead-letters.js';
import { delayedCommand } from './commands/delayed.js';
import { pendingCommand } from './commands/pending.js';
import { purgeCommand } from './commands/purge.js';
import { requeueCommand } from './commands/requeue.js';
import { sendCommand } from './commands/send.js';
import { statusCommand } from './commands/status.js';
import { taskCommand } from './commands/task.js';

/** Every command, in the order `machinery --help` lists them. */
export const COMMANDS: readonly Command[] = [
  statusCommand,
  taskCommand,
  pendingCommand,
  delayedCommand,
  deadLettersCommand,
  requeueCommand,
  purgeCommand,
  sendCommand,
];

/**
 * Commands that are planned but need something the project does not offer yet; naming one says so
 * instead of "unknown command".
 */
export const PLANNED: Readonly<Record<string, string>> = {
  revoke: 'needs the control plane (revocations), which is not available yet',
  pause: 'needs the control plane (paused queues), which is not available yet',
  resume: 'needs the control plane (paused queues), which is not available yet',
  workers: 'needs the control plane (live workers), which is not available yet',
  events: 'needs the control plane (task events), which is not available yet',
};

/** The planned commands that wait for the control plane. */
export const CONTROL_PLANE: readonly string[] = ['revoke', 'pause', 'resume', 'workers', 'events'];
