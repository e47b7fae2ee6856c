import { randomBytes } from 'node:crypto';

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
