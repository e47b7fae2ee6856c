export type { Arg, ArgInput, ArgType, GoScalarType, GoSliceType, TaskResult } from './arg.js';
export {
  arg,
  argValue,
  fromWire,
  inferType,
  isSupportedType,
  JSON_TYPE,
  TypedArg,
  toArg,
  toResult,
} from './arg.js';
export type { GetOptions } from './async-result.js';
export {
  AsyncResult,
  ChainAsyncResult,
  ChordAsyncResult,
  GroupAsyncResult,
  resultValue,
} from './async-result.js';
export type { Backend, BackendCapabilities } from './backend.js';
export { StateWritingBackend } from './backend.js';
export type {
  Broker,
  BrokerCapabilities,
  ConsumeOptions,
  Consumer,
  DeadLetter,
  Delivery,
  NackOptions,
} from './broker.js';
export type { DecodeOptions, TaskStateParts, WireFormat } from './codec.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeGroupMeta,
  decodeSignature,
  decodeTaskState,
  decodeTaskStatus,
  encodeForPublish,
  encodeGroupMeta,
  encodeSignature,
  encodeSignatureCompact,
  encodeTaskState,
  encodeTaskStateParts,
  signatureFromJson,
} from './codec.js';
export type { ControlOptions, ControlPlane } from './control/control-plane.js';
export { scheduleRevocationId } from './control/control-plane.js';
export type { PauseStore } from './control/pauses.js';
export type { ProgressStore, TaskProgress } from './control/progress.js';
export type { Revocation, RevocationStore, RevokeOptions, Unsubscribe } from './control/revocations.js';
export type { RevokeTarget } from './control/revoke.js';
export { revokeTasks } from './control/revoke.js';
export type { TaskEvent, TaskEventStream, TaskEventType } from './control/task-events.js';
export type { WorkerInfo, WorkerRegistry } from './control/worker-registry.js';
export { Dictionary } from './dictionary.js';
export type { ErrorCode } from './errors.js';
export {
  DecodeError,
  errorText,
  isMachineryError,
  isTaskRevoked,
  MachineryError,
  RetryLater,
  TaskFailedError,
  TaskNotRegisteredError,
  TaskRevokedError,
  TaskTimeoutError,
} from './errors.js';
export type { EventMap } from './events.js';
export { TypedEmitter } from './events.js';
export type { ConcurrencyLimit, ConcurrencyStore } from './flow/concurrency-limits.js';
export type { FlowControl } from './flow/flow-control.js';
export type { RateLimit, RateLimitRule, RateLimitStore } from './flow/rate-limits.js';
export { WAKE_GRACE_MS } from './flow/rate-limits.js';
export type { UniqueClaim } from './flow/unique-claim.js';
export { uniqueClaimOf, withUnique } from './flow/unique-claim.js';
export type { UniqueStore, UniqueTask } from './flow/unique-tasks.js';
export type {
  CappedCount,
  InspectQueuesOptions,
  QueueInspection,
  QueuesInspection,
  StoredEntry,
  WaitingTask,
} from './inspection.js';
export { findWaitingTask, inspectQueues, readTaskOrGroup } from './inspection.js';
export type { JsonValue } from './json.js';
export { encodeJson, parseJson } from './json.js';
export type { Lock } from './lock.js';
export type { LogFn, Logger } from './logger.js';
export { childLogger, defaultLogger, resolveLogger, silentLogger } from './logger.js';
export type { MemoryBackendOptions } from './memory/memory-backend.js';
export { MemoryBackend, MemoryBackendStore } from './memory/memory-backend.js';
export type { MemoryBrokerOptions } from './memory/memory-broker.js';
export { MemoryBroker, MemoryBrokerStore } from './memory/memory-broker.js';
export type { MemoryControlPlaneOptions } from './memory/memory-control-plane.js';
export { MemoryControlPlane, MemoryControlPlaneStore } from './memory/memory-control-plane.js';
export type { MemoryFlowControlOptions } from './memory/memory-flow-control.js';
export { MemoryFlowControl, MemoryFlowControlStore } from './memory/memory-flow-control.js';
export type { MemoryLockOptions } from './memory/memory-lock.js';
export { MemoryLock, MemoryLockStore } from './memory/memory-lock.js';
export type {
  MiddlewareOptions,
  PublishContext,
  PublishMiddleware,
  PublishOrigin,
  RunOutcome,
  TaskMiddleware,
  TaskMiddlewareContext,
} from './middleware.js';
export type { PurgeCounts, PurgeOptions, PurgeRequest, PurgeSupport } from './purge.js';
export { checkPurge, PURGE_PARTS } from './purge.js';
export { redactText, redactUrl } from './redact.js';
export type { ExponentialRetryOptions, RetryDelay, RetryStrategy } from './retry.js';
export { backoffDelay, exponentialRetry, fibonacciNext, fibonacciRetry } from './retry.js';
export type { Schedulable, ScheduleHandle } from './scheduler.js';
export { parseDuration } from './scheduler.js';
export type { SenderOptions, SendGroupOptions } from './sender.js';
export { Sender } from './sender.js';
export { SequentialByKey } from './sequential-by-key.js';
export type { ServerOptions } from './server.js';
export { Server } from './server.js';
export type { Headers, Signature, SignatureOptions } from './signature.js';
export { chordUUID, copySignature, groupUUID, signature, taskUUID } from './signature.js';
export type { GroupMeta, StateUpdate, TaskState } from './state.js';
export { isCompleted, keepsEarlierState, nextTaskState, TaskStatus } from './state.js';
export type {
  ResultOf,
  SignatureArgs,
  TaskContext,
  TaskDefinition,
  TaskFunction,
  TaskOptions,
  TaskSignature,
  Tuple,
} from './task.js';
export { defineTask, isTuple, tuple } from './task.js';
export type { AnyTaskDefinition } from './task-registry.js';
export { TaskRegistry } from './task-registry.js';
export type { ThreadPoolOptions } from './thread-pool/thread-pool-options.js';
export { formatTime, PreciseDate, parseTime } from './time.js';
export { Worker } from './worker.js';
export type { WorkerEvents } from './worker-events.js';
export type { WorkerDependencies, WorkerOptions } from './worker-options.js';
export type { Chain, Chord, Group } from './workflow.js';
export { chain, chord, group } from './workflow.js';
