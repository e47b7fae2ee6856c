import { isMachineryError } from '@machinery/core';

/**
 * The exit codes of `machinery`, stable for scripts:
 *
 * | code | meaning |
 * |---|---|
 * | 0 | done |
 * | 1 | a service is down or refused, an operation failed, a waited-for task failed or timed out |
 * | 2 | usage or configuration error: unknown command or option, bad value, unsupported URL, missing adapter package |
 * | 3 | not found: no task or group with that UUID |
 * | 130 | interrupted by Ctrl-C or SIGTERM (except `events`, which ends that way with 0) |
 */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INTERRUPTED: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The exit code for an error that ended a command: `ERR_INVALID_ARGUMENT` is a usage or
 * configuration problem (2), `ERR_NOT_FOUND` a missing task (3), anything else a failed operation (1).
 */
export function exitCodeOf(err: unknown): ExitCode {
  if (isMachineryError(err, 'ERR_INVALID_ARGUMENT')) return ExitCode.USAGE;
  if (isMachineryError(err, 'ERR_NOT_FOUND')) return ExitCode.NOT_FOUND;
  return ExitCode.FAILURE;
}
