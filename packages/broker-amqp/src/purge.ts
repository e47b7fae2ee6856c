import type { Channel, GetMessage } from 'amqplib';
import { EXIT_HEADER } from './delay.js';
import { ORIGIN_HEADER, stringHeader } from './headers.js';
import type { ResolvedBrokerOptions } from './options.js';

/**
 * Takes every ready message of `queue` on `ch` (unacknowledged), acknowledges — removes — those
 * `remove` selects and puts the others back in place. Returns how many it removed. Messages that
 * arrive while it runs may be left; messages consumers hold are never ready, so never seen.
 */
export async function removeWhere(
  ch: Channel,
  queue: string,
  ready: number,
  remove: (m: GetMessage) => boolean,
): Promise<number> {
  let removed = 0;
  const keep: GetMessage[] = [];
  for (let i = 0; i < ready; i++) {
    const m = await ch.get(queue, { noAck: false });
    if (m === false) break;
    if (remove(m)) {
      ch.ack(m);
      removed++;
    } else keep.push(m);
  }
  // Back in place now, not when the channel closes: a delay level's TTL does not run while held.
  for (const m of keep) ch.nack(m, false, true);
  return removed;
}

/**
 * The queue a delayed message goes to when due: a delayed requeue (exit `queue`) goes straight back
 * to the queue its routing key names; a delayed publish goes through the main exchange, which for a
 * direct exchange is the queue named like its routing key, and for any other type the default queue
 * (as the publisher assumes). Dead-lettering between levels keeps the routing key.
 */
export function delayedTarget(m: GetMessage, options: ResolvedBrokerOptions): string {
  const exit = stringHeader(m.properties.headers, EXIT_HEADER);
  if (exit === 'queue' || options.exchangeType === 'direct') return m.fields.routingKey;
  return options.defaultQueue;
}

/** The queue a dead letter came from, as `requeueDeadLetters` reads it (the default queue when unknown). */
export function deadLetterOrigin(m: GetMessage, defaultQueue: string): string {
  const h = m.properties.headers;
  return stringHeader(h, ORIGIN_HEADER) || stringHeader(h, 'x-first-death-queue') || defaultQueue;
}
