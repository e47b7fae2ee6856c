import {
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import type { RunConfig } from './config.js';

/** What cleanup removed, and what it found left afterwards (must be nothing). */
export interface CleanupResult {
  removed: string;
  leftover: string[];
}

/** Deletes every Redis key under `prefix` (broker keys, states, groups, soak counters). */
async function redisKeys(redisUrl: string, prefix: string): Promise<{ deleted: number; left: number }> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const each = async (fn: (keys: string[]) => Promise<unknown>) => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
        cursor = next;
        if (keys.length > 0) await fn(keys);
      } while (cursor !== '0');
    };
    let deleted = 0;
    await each(async (keys) => {
      deleted += await redis.unlink(...keys);
    });
    let left = 0;
    await each(async (keys) => {
      left += keys.length;
    });
    return { deleted, left };
  } finally {
    redis.disconnect();
  }
}

/** The exchanges and queues an AmqpBroker declares for this run (see broker-amqp's README). */
function amqpObjects(c: RunConfig): { queues: string[]; exchanges: string[] } {
  const levels = Array.from({ length: c.delayLevels }, (_, k) => `${c.exchange}.delay.${k}`);
  const exit = `${c.exchange}.delay.exit`;
  return {
    queues: [c.queue, c.deadLetterQueue, ...levels, exit],
    exchanges: [c.exchange, ...levels, exit],
  };
}

async function amqpCleanup(c: RunConfig): Promise<CleanupResult> {
  const { queues, exchanges } = amqpObjects(c);
  const connection = await amqp.connect(c.directUrl);
  connection.on('error', () => {});
  let messages = 0;
  const leftover: string[] = [];
  try {
    // A deletion of something never declared closes its channel (404): one channel per object.
    const onChannel = async <T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T | undefined> => {
      const ch = await connection.createChannel();
      ch.on('error', () => {});
      try {
        return await fn(ch);
      } catch {
        return undefined;
      } finally {
        await ch.close().catch(() => {});
      }
    };
    for (const q of queues) messages += (await onChannel((ch) => ch.deleteQueue(q)))?.messageCount ?? 0;
    for (const e of exchanges) await onChannel((ch) => ch.deleteExchange(e));
    for (const q of queues) if (await onChannel((ch) => ch.checkQueue(q))) leftover.push(`queue ${q}`);
    for (const e of exchanges)
      if (await onChannel((ch) => ch.checkExchange(e))) leftover.push(`exchange ${e}`);
  } finally {
    await connection.close().catch(() => {});
  }
  return {
    removed: `${queues.length} queues (${messages} messages left in them), ${exchanges.length} exchanges`,
    leftover,
  };
}

function sqsClient(c: RunConfig): SQSClient {
  return new SQSClient({
    endpoint: c.directUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

/** The approximate message counts of the run's SQS queue (a diagnostic when tasks are missing). */
export async function sqsCounts(c: RunConfig): Promise<string> {
  const client = sqsClient(c);
  try {
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: c.queue }));
    const { Attributes: a = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );
    return `SQS queue: ${a.ApproximateNumberOfMessages ?? '?'} visible, ${a.ApproximateNumberOfMessagesNotVisible ?? '?'} in flight, ${a.ApproximateNumberOfMessagesDelayed ?? '?'} delayed`;
  } catch (err) {
    return `SQS queue attributes: ${(err as Error).message}`;
  } finally {
    client.destroy();
  }
}

async function sqsCleanup(c: RunConfig): Promise<CleanupResult> {
  const client = sqsClient(c);
  try {
    const list = async () =>
      (await client.send(new ListQueuesCommand({ QueueNamePrefix: c.runId }))).QueueUrls ?? [];
    const urls = await list();
    for (const url of urls) await client.send(new DeleteQueueCommand({ QueueUrl: url }));
    return { removed: `${urls.length} SQS queues`, leftover: await list() };
  } finally {
    client.destroy();
  }
}

/**
 * Removes everything the run created: its broker objects (queues, exchanges or keys) and its Redis
 * keys (states, groups, counters). Call it after every process using them has stopped — a live SQS
 * broker would create a deleted queue again.
 */
export async function cleanup(c: RunConfig): Promise<CleanupResult> {
  const parts: string[] = [];
  const leftover: string[] = [];
  if (c.kind === 'amqp') {
    const r = await amqpCleanup(c);
    parts.push(r.removed);
    leftover.push(...r.leftover);
  } else if (c.kind === 'sqs') {
    const r = await sqsCleanup(c);
    parts.push(r.removed);
    leftover.push(...r.leftover);
  }
  const keys = await redisKeys(c.redisUrl, c.prefix);
  parts.push(`${keys.deleted} Redis keys`);
  if (keys.left > 0) leftover.push(`${keys.left} Redis keys under ${c.prefix}`);
  return { removed: parts.join(', '), leftover };
}
