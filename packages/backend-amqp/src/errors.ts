import { replyCode } from '@machinery/amqp-connection';
import { errorText, MachineryError, redactText } from '@machinery/core';

/** An error for a failed backend operation that says what to do. */
export function operationError(what: string, err: unknown, lost: boolean): MachineryError {
  const text = redactText(errorText(err));
  if (lost) {
    return new MachineryError(
      'ERR_CONNECTION',
      `The connection to RabbitMQ was lost while ${what} (${text}).`,
      {
        cause: err,
      },
    );
  }
  if (replyCode(err) === 406) {
    return new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RabbitMQ refused ${what}: ${text}. The result queue exists with other arguments — every producer and worker, Go or TypeScript, must use the same resultsExpireIn.`,
      { cause: err },
    );
  }
  return new MachineryError('ERR_CONNECTION', `RabbitMQ failed while ${what}: ${text}.`, { cause: err });
}
