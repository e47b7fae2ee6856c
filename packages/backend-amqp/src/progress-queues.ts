import { isNotFound, replyCode } from '@machinery/amqp-connection';
import type { ProgressStore, TaskProgress } from '@machinery/core';
import type { Message } from 'amqplib';
import type { ControlChannels } from './control-channels.js';
import { type ControlNames, progressOptions } from './control-names.js';
import { takeOrWait } from './queue-reads.js';

// Another process may hold the report for a moment while it reads it (taken, then put back): a reader
// that finds the queue empty looks again for this long before it answers "none".
const READ_WAIT_MS = 300;

function decode(m: Message): TaskProgress | undefined {
  try {
    const p = JSON.parse(m.content.toString('utf8')) as TaskProgress;
    return typeof p?.at === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Progress in one last-value queue per task (`x-max-length` 1, so a new report pushes the old one out),
 * the report expiring after its time-to-live and the queue once unused that long. A read takes the
 * report and puts it back (AMQP has no peek), like the AMQP backend's reads.
 */
export function progressStore(channels: ControlChannels, names: ControlNames): ProgressStore {
  return {
    set: (taskUUID, data, ttlMs) =>
      channels.run(`storing the progress of task ${taskUUID}`, async (link) => {
        const queue = names.progress(taskUUID);
        const ttl = Math.max(1, Math.ceil(ttlMs));
        const declared = await channels
          .withChannel(link, (ch) => ch.assertQueue(queue, progressOptions(ttl)).then(() => true))
          .catch((err: unknown) => {
            if (replyCode(err) === 406) return false;
            throw err;
          });
        if (!declared) {
          // Declared before with another time-to-live: the old report is being replaced anyway.
          await channels.withChannel(link, async (ch) => {
            await ch.deleteQueue(queue);
            await ch.assertQueue(queue, progressOptions(ttl));
          });
        }
        const progress: TaskProgress = { data, at: Date.now() };
        await channels.publish(link, '', queue, Buffer.from(JSON.stringify(progress)), {
          expiration: String(ttl),
        });
      }),
    get: (taskUUID) =>
      channels.run(`reading the progress of task ${taskUUID}`, (link) =>
        channels.withChannel(link, async (ch) => {
          const queue = names.progress(taskUUID);
          let ready: number;
          try {
            ready = (await ch.checkQueue(queue)).messageCount;
          } catch (err) {
            if (isNotFound(err)) return undefined;
            throw err;
          }
          const held = await takeOrWait(ch, queue, ready, READ_WAIT_MS);
          // Put back at once for the next reader (a report pushed out meanwhile is dropped again).
          if (held.length > 0) ch.nackAll(true);
          let newest: TaskProgress | undefined;
          for (const m of held) {
            const p = decode(m);
            if (p !== undefined && (newest === undefined || p.at >= newest.at)) newest = p;
          }
          return newest;
        }),
      ),
  };
}
