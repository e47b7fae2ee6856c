export type {
  ArgToken,
  Command,
  CommandContext,
  CommandResult,
  ConnectRequest,
  OptionSpec,
  OptionValues,
} from './command.js';
export type { DashboardData } from './commands/dashboard.js';
export type { DeadLettersData } from './commands/dead-letters.js';
export type { DelayedData } from './commands/delayed.js';
export type { EventsData } from './commands/events.js';
export type { PauseData, PauseRow } from './commands/pause.js';
export type { PendingData } from './commands/pending.js';
export type { RequeueData } from './commands/requeue.js';
export type { RevokeData, RevokedRow } from './commands/revoke.js';
export type { SendData } from './commands/send.js';
export type { QueueStatus, StatusData } from './commands/status.js';
export type { GroupData, TaskData } from './commands/task.js';
export type { WorkerRow, WorkersData } from './commands/workers.js';
export { COMMANDS } from './commands.js';
export type { Env } from './connection.js';
export type { Count } from './counts.js';
export { ExitCode, exitCodeOf } from './exit-codes.js';
export type { RunOptions } from './main.js';
export { run } from './main.js';
export type { Column, Io } from './output.js';
export { Output } from './output.js';
export type { DeadLetterRow, TaskRow } from './task-rows.js';
