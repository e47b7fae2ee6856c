// Code the sample worker shares with the sample producer: the example tasks, the workload the demo
// runs, and the apps' settings, logger and error reporting. Adapters come from @machinery/connect.
export { assertStandalone, positiveIntFromEnv } from './app-config.js';
export type { LogLevel } from './app-logger.js';
export { appLogger, LOG_LEVELS, logLevelFromEnv } from './app-logger.js';
export { runMain } from './run-main.js';
export {
  add,
  concat,
  exampleTasks,
  flaky,
  heartbeat,
  multiply,
  polite,
  split,
  sumInts,
  whenDidIRun,
} from './tasks.js';
export type { WorkloadOptions } from './workload.js';
export { runWorkload } from './workload.js';
