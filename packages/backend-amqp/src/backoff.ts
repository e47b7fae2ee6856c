/**
 * Pause before reconnect attempt `attempt` (1, 2, …): exponential from `initialMs`, capped at `maxMs`,
 * then drawn from its upper half ("equal jitter") so that many clients cut off together do not come
 * back in lockstep.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
