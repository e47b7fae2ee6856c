import { errorText, MachineryError, redactText } from '@machinery/core';

/** The AMQP reply code of an amqplib error (404 NOT_FOUND, 406 PRECONDITION_FAILED, 320 CONNECTION_FORCED…). */
export function replyCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True for RabbitMQ's 404 NOT_FOUND (a queue or exchange that does not exist). */
export function isNotFound(err: unknown): boolean {
  return replyCode(err) === 404;
}

/**
 * Turns a failed declaration into an error that says what to do. `lost` tells whether the connection
 * went away meanwhile (then the failure is transient).
 */
export function declareError(what: string, err: unknown, lost: boolean): MachineryError {
  const text = redactText(errorText(err));
  if (lost) {
    return new MachineryError(
      'ERR_CONNECTION',
      `The connection to RabbitMQ was lost while declaring ${what} (${text}).`,
      { cause: err },
    );
  }
  const code = replyCode(err);
  if (code === 406) {
    return new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RabbitMQ refused to declare ${what}: ${text}. It already exists with other properties or arguments; ` +
        'declare it the same way everywhere (exchange type, queueDeclareArgs, maxPriority, resultsExpireIn) or delete it.',
      { cause: err },
    );
  }
  if (code === 403) {
    return new MachineryError(
      'ERR_CONNECTION',
      `RabbitMQ refused access while declaring ${what}: ${text}. Check the user's permissions on the vhost.`,
      { cause: err },
    );
  }
  return new MachineryError('ERR_CONNECTION', `Declaring ${what} failed: ${text}.`, { cause: err });
}
