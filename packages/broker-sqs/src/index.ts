export type { SqsBrokerOptions, TaskStateReader } from './options.js';
export {
  defaultDeadLetterQueue,
  SQS_MAX_DELAY_SECONDS,
  SQS_MAX_MESSAGE_BYTES,
  SQS_MAX_VISIBILITY_SECONDS,
} from './options.js';
export { REASON_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE, SqsBroker } from './sqs-broker.js';
