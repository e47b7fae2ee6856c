import type { Options } from 'amqplib';

// Go Machinery's result layout: a queue named after each task UUID holding its TaskState JSON, and a
// queue named after each group UUID holding a copy of every member's final state. Go never creates
// `<groupUUID>_chord_triggered` (it only checks whether it exists); we create it so that a Go worker
// seeing it declines to fire the chord. Our own guard is `<groupUUID>_chord_guard`, a queue Go never
// deletes (Go's PurgeGroupMeta deletes `_chord_triggered`, which would let a second winner in).
// `<groupUUID>_meta` is ours alone.

/** Queue holding the group's metadata (GroupMeta JSON). */
export function groupMetaQueue(groupUUID: string): string {
  return `${groupUUID}_meta`;
}

/** The queue whose existence tells Go's `TriggerChord` that the chord was triggered. */
export function chordTriggeredQueue(groupUUID: string): string {
  return `${groupUUID}_chord_triggered`;
}

/** The chord guard: the queue whose one accepted mark decides the winner. */
export function chordGuardQueue(groupUUID: string): string {
  return `${groupUUID}_chord_guard`;
}

/**
 * How Go declares a result queue: not durable, deleted when unused, messages and queue expiring after
 * `ResultsExpireIn`. Every declaration of the queue, by Go or by us, must match this exactly.
 */
export function resultQueueOptions(ttlMs: number): Options.AssertQueue {
  return {
    durable: false,
    autoDelete: true,
    exclusive: false,
    arguments: { 'x-message-ttl': ttlMs, 'x-expires': ttlMs },
  };
}

/**
 * The chord guard (and, declared the same way so that earlier versions can re-declare it, the mark Go
 * looks for): room for one message, further publishes refused (negative confirm). The single publish
 * RabbitMQ confirms positively wins the chord. No message TTL: the mark must outlive the race.
 */
export function chordGuardOptions(ttlMs: number): Options.AssertQueue {
  return {
    durable: false,
    autoDelete: false,
    exclusive: false,
    arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish', 'x-expires': ttlMs },
  };
}
