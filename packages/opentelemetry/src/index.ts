export { ATTR, MESSAGING_SYSTEM } from './attributes.js';
export type { MachineryMetrics, MachineryMetricsOptions } from './metrics.js';
export { machineryMetrics, SENT_AT_HEADER } from './metrics.js';
export type { TaskOutcome } from './outcome.js';
export type { MachineryTracing, MachineryTracingOptions } from './tracing.js';
export { INSTRUMENTATION_NAME, machineryTracing } from './tracing.js';
export { W3CTraceContext } from './w3c-trace-context.js';
