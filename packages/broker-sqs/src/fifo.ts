import { createHash, randomBytes } from 'node:crypto';

// SQS accepts alphanumerics and ASCII punctuation in group and deduplication ids, up to 128 characters.
function sanitize(text: string, max: number): string {
  return text.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
}

/**
 * A `MessageDeduplicationId` unique per send: the task UUID plus a random suffix. Go uses the bare UUID,
 * so a retry (same UUID) sent within SQS's five-minute deduplication window is silently dropped; ours
 * is always delivered. The SDK's own retries of one request reuse the id, so they still deduplicate.
 */
export function deduplicationId(uuid: string): string {
  return `${sanitize(uuid, 100) || 'task'}-${randomBytes(8).toString('hex')}`;
}

/** A valid `MessageGroupId` from `brokerMessageGroupId` or a fallback. */
export function messageGroupId(id: string): string {
  return sanitize(id, 128) || 'machinery';
}

/** SQS's deduplication window on FIFO queues, fixed by AWS: 5 minutes. */
export const SQS_DEDUPLICATION_WINDOW_MS = 300_000;

/**
 * The `MessageDeduplicationId` of a unique task (core's `withUnique` or a definition's `unique`): the
 * SHA-256 of its task name and key, so that SQS also drops a duplicate — one the producer's store cannot
 * see, such as a send retried after a publish that timed out but reached SQS. Used only when the
 * unique window is at least SQS's fixed 5 minutes: with a shorter one, SQS would still drop a send made
 * after the window (its result would never complete), so such tasks keep a per-send id.
 */
export function uniqueDeduplicationId(taskName: string, key: string): string {
  return `u-${createHash('sha256').update(taskName).update('\0').update(key).digest('hex')}`;
}
