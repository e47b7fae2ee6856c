import { MachineryError } from '@machinery/core';

/**
 * The error for an inspection the configured broker does not offer (SQS cannot list pending or
 * delayed tasks). `ERR_INVALID_ARGUMENT`, so exit code 2: the command cannot work with this
 * configuration, and running it again will not help.
 */
export function cannot(what: string, broker: string): MachineryError {
  return new MachineryError(
    'ERR_INVALID_ARGUMENT',
    `The broker ${broker} cannot ${what}: its adapter does not offer this inspection (see machinery status for what it can show).`,
  );
}
