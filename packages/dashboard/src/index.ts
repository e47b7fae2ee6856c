export { isLoopbackName } from './auth.js';
export type { Dashboard } from './create-dashboard.js';
export { createDashboard } from './create-dashboard.js';
export type { Bucket, Series } from './event-history.js';
export type { LiveOverview } from './live-hub.js';
export type {
  DashboardAuth,
  DashboardOptions,
  DashboardUrls,
  Redact,
  RedactKind,
  RedactTask,
} from './options.js';
export type {
  Count,
  DeadLetterView,
  GroupSummary,
  GroupView,
  OverviewView,
  QueueView,
  TaskView,
  WorkerView,
} from './queries.js';
export type { EventView, WireValue } from './redaction.js';
export { CSRF_HEADER } from './security.js';
export type { ServeDashboardOptions, ServedDashboard } from './serve-dashboard.js';
export { serveDashboard } from './serve-dashboard.js';
