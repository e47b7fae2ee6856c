// Delays without one queue per delay value. There are `levels` pairs of a headers exchange and a queue,
// level k holding messages for exactly 2^k ms (queue TTL). A delayed message carries one header per
// level, the bits of its delay: at level k's exchange it enters level k's queue when its bit is 1 and
// otherwise passes straight on to level k−1's exchange; level k's queue dead-letters expired messages
// to level k−1's exchange. After level 0 the exit exchange sends it, with its routing key untouched,
// either into the main exchange (a delayed publish, routed like any task) or through a TTL-0 queue into
// the default exchange (a delayed requeue, straight back to the queue it came from). A message spends
// the sum of its set bits in queues — exactly its delay — and RabbitMQ's own TTL timers move it, so
// nothing needs to run for delays to elapse, however many workers and delays there are: 2·levels + 2
// fixed objects, never more.

/** Header holding the routing decision at the end of the levels. */
export const EXIT_HEADER = 'machinery-exit';

/** Where a delayed message goes once its delay has passed. */
export type DelayExit = 'exchange' | 'queue';

/** Header with the bit of level `k` (`'1'`: wait 2^k ms there). Not `x-` prefixed: headers exchanges ignore those. */
export function bitHeader(k: number): string {
  return `machinery-d${k}`;
}

/** Name of level `k`'s exchange and of its queue (they live in separate namespaces). */
export function levelName(exchange: string, k: number): string {
  return `${exchange}.delay.${k}`;
}

/** Name of the exit exchange and of the TTL-0 queue behind it. */
export function exitName(exchange: string): string {
  return `${exchange}.delay.exit`;
}

/** Longest delay one pass through `levels` levels gives, in ms. */
export function maxSinglePassMs(levels: number): number {
  return 2 ** levels - 1;
}

/** How to publish one delayed message. */
export interface DelayPlan {
  /** Exchange to publish to (the level of the delay's highest bit). */
  readonly exchange: string;
  /** Routing headers to add. */
  readonly headers: Record<string, string>;
  /** The delay exceeds one pass: the message arrives early and is delayed again. */
  readonly rehop: boolean;
}

/** Plans a delay of `delayMs` (≥ 1) through the levels of `exchange`. */
export function planDelay(exchange: string, levels: number, delayMs: number, exit: DelayExit): DelayPlan {
  const pass = Math.min(Math.max(1, Math.ceil(delayMs)), maxSinglePassMs(levels));
  let top = 0;
  while (2 ** (top + 1) <= pass) top++;
  const headers: Record<string, string> = { [EXIT_HEADER]: exit };
  let rest = pass;
  // Division instead of bit operators: delays reach 2^32 − 1, beyond 32-bit signed arithmetic.
  for (let k = 0; k <= top; k++) {
    headers[bitHeader(k)] = rest % 2 === 1 ? '1' : '0';
    rest = Math.floor(rest / 2);
  }
  return { exchange: levelName(exchange, top), headers, rehop: pass < Math.ceil(delayMs) };
}
