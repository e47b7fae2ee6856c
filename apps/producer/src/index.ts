export type { Adapters, AdapterUrls } from './adapters.js';
export { createAdapters, createBackend, createBroker, createLock, urlsFromEnv } from './adapters.js';
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
export { runWorkload } from './workload.js';
