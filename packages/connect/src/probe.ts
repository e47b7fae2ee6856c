import { errorText, MachineryError, redactText } from '@machinery/core';
import { oneLine } from './probe-logger.js';

/**
 * Runs `check` against a service and turns silence or failure into one clear `ERR_CONNECTION`:
 * `<what> is unreachable: <reason>` or `<what> did not answer within N s: <last logged problem>`.
 * Adapters reconnect forever by design (a worker must survive an outage), so without this bound a
 * service that is down at start would look like a hang.
 */
export async function probe(
  what: string,
  check: () => Promise<unknown>,
  timeoutMs: number,
  lastProblem: () => string | undefined,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: false; timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, timedOut: true }), timeoutMs);
  });
  // A check that fails after the deadline must not become an unhandled rejection.
  const running = check().then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, timedOut: false as const, err }),
  );
  const outcome = await Promise.race([running, timeout]);
  clearTimeout(timer);
  if (outcome.ok) return;
  if (outcome.timedOut) {
    const seconds = Math.round(timeoutMs / 100) / 10;
    throw new MachineryError(
      'ERR_CONNECTION',
      `${what} did not answer within ${seconds} s: ${lastProblem() ?? 'is the server running, and is the URL right?'}`,
    );
  }
  throw new MachineryError(
    'ERR_CONNECTION',
    `${what} is unreachable: ${oneLine(redactText(errorText(outcome.err)))}`,
    { cause: outcome.err },
  );
}
