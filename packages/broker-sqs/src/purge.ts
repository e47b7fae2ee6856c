import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type ReceiveMessageCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SQS_BATCH_SIZE } from './delete-batcher.js';
import { sqsError } from './errors.js';

/**
 * How long a message purge keeps stays hidden, should the purging process die before giving it
 * back; it is given back (visibility 0) as soon as the queue has been read.
 */
const KEEP_HIDDEN_SECONDS = 30;

/**
 * Purges by receiving and deleting, not with `PurgeQueue`: PurgeQueue also deletes the messages
 * workers hold, takes up to 60 s, and AWS allows it once per 60 s per queue. Receives every visible
 * message of `queueUrl`, ten at a time, deletes those `remove` selects and gives the others back once
 * the queue has been read. Returns how many it deleted.
 *
 * Messages workers hold are invisible, so never received, never deleted. Each receive long polls for
 * a second, so that SQS answers from all its servers and an empty answer means an empty queue. On a
 * FIFO queue, a message group with a message in flight stays out of reach until that one is settled.
 * It stops once a whole batch was sent after it started, so producers that keep publishing cannot
 * keep it running.
 */
export async function receiveAndDelete(
  client: SQSClient,
  queue: string,
  queueUrl: string,
  remove: (m: Message) => boolean,
  signal: AbortSignal,
): Promise<number> {
  const seen = new Set<string>();
  const kept: Message[] = [];
  let deleted = 0;
  const started = Date.now();
  try {
    for (;;) {
      let out: ReceiveMessageCommandOutput;
      try {
        out = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: SQS_BATCH_SIZE,
            WaitTimeSeconds: 1,
            VisibilityTimeout: KEEP_HIDDEN_SECONDS,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['SentTimestamp'],
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw sqsError(err, 'ReceiveMessage', queue);
      }
      const fresh = (out.Messages ?? []).filter(
        (m) => m.MessageId && m.ReceiptHandle && !seen.has(m.MessageId),
      );
      if (fresh.length === 0) break;
      const doomed: Message[] = [];
      for (const m of fresh) {
        seen.add(m.MessageId as string);
        (remove(m) ? doomed : kept).push(m);
      }
      if (doomed.length > 0) deleted += await deleteBatch(client, queue, queueUrl, doomed, signal);
      if (fresh.every((m) => Number(m.Attributes?.SentTimestamp) > started)) break;
    }
  } finally {
    await giveBack(client, queueUrl, kept);
  }
  return deleted;
}

async function deleteBatch(
  client: SQSClient,
  queue: string,
  queueUrl: string,
  messages: readonly Message[],
  signal: AbortSignal,
): Promise<number> {
  try {
    const out = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
      { abortSignal: signal },
    );
    // A failed entry (a stale receipt) is a message purge did not remove: not counted.
    return out.Successful?.length ?? 0;
  } catch (err) {
    throw sqsError(err, 'DeleteMessageBatch', queue);
  }
}

async function giveBack(client: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += SQS_BATCH_SIZE) {
    const batch = messages.slice(i, i + SQS_BATCH_SIZE);
    await client
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((m, j) => ({
            Id: String(j),
            ReceiptHandle: m.ReceiptHandle as string,
            VisibilityTimeout: 0,
          })),
        }),
      )
      // Not fatal: they come back after KEEP_HIDDEN_SECONDS instead.
      .catch(() => {});
  }
}
