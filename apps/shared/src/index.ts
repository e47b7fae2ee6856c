// What the sample producer and worker share, so that neither app is the other's library: the example
// tasks, the workload the producer and the demo send, and the apps' settings, logger and error
// reporting. Adapters come from @machinery/connect in each app.
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
