import { errorText, isMachineryError, redactText } from '@machinery/core';

/** Exit code of a configuration error (a URL, a variable): fix the environment and run again. */
export const EXIT_CONFIG = 2;
/** Exit code of any other failure (a service down, a refused password, a result that never came). */
export const EXIT_FAILURE = 1;

/**
 * Runs an app's `main` and turns a failure into one line on stderr and a non-zero exit code, instead
 * of a stack trace (set `LOG_LEVEL=debug` to see the stack too).
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.exitCode = isMachineryError(err, 'ERR_INVALID_ARGUMENT') ? EXIT_CONFIG : EXIT_FAILURE;
    process.stderr.write(`error: ${redactText(errorText(err)).replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env.LOG_LEVEL === 'debug' && err instanceof Error && err.stack) {
      process.stderr.write(`${redactText(err.stack)}\n`);
    }
    // An adapter may still hold a socket or a reconnect timer; the error is reported, so leave now.
    process.exit();
  }
}
