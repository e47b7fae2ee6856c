import type { Channel, Message } from 'amqplib';

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Takes up to `max` ready messages of `queue` (without acknowledging them). */
export async function take(ch: Channel, queue: string, max = Number.POSITIVE_INFINITY): Promise<Message[]> {
  const out: Message[] = [];
  while (out.length < max) {
    const m = await ch.get(queue, { noAck: false });
    if (m === false) break;
    out.push(m);
  }
  return out;
}

/**
 * Takes the `ready` messages `queue` was found with; when there are none (any more), looks again, at
 * growing jittered intervals, for up to `waitMs`.
 */
export async function takeOrWait(
  ch: Channel,
  queue: string,
  ready: number,
  waitMs: number,
): Promise<Message[]> {
  let held = ready > 0 ? await take(ch, queue, ready) : [];
  const end = Date.now() + waitMs;
  let pause = 1;
  while (held.length === 0 && Date.now() < end) {
    await sleep(pause * (0.5 + Math.random()));
    pause = Math.min(pause * 2, 25);
    held = await take(ch, queue);
  }
  return held;
}
