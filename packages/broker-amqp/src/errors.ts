import { replyCode } from '@machinery/amqp-connection';
import { errorText, MachineryError, redactText } from '@machinery/core';

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
