import type { Command } from './command.js';
import { dashboardCommand } from './commands/dashboard.js';
import { deadLettersCommand } from './commands/dead-letters.js';
import { delayedCommand } from './commands/delayed.js';
import { eventsCommand } from './commands/events.js';
import { pauseCommand, resumeCommand } from './commands/pause.js';
import { pendingCommand } from './commands/pending.js';
import { purgeCommand } from './commands/purge.js';
import { requeueCommand } from './commands/requeue.js';
import { revokeCommand } from './commands/revoke.js';
import { sendCommand } from './commands/send.js';
import { statusCommand } from './commands/status.js';
import { taskCommand } from './commands/task.js';
import { workersCommand } from './commands/workers.js';

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
  revokeCommand,
  pauseCommand,
  resumeCommand,
  workersCommand,
  eventsCommand,
  dashboardCommand,
];

/**
 * Commands that are planned but need something the project does not offer yet; naming one says so
 * instead of "unknown command". None at the moment.
 */
export const PLANNED: Readonly<Record<string, string>> = {};
