import { errorText, MachineryError, redactText } from '@machinery/core';

/** The AMQP reply code of an amqplib error (404 NOT_FOUND, 406 PRECONDITION_FAILED…). */
export function replyCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True for RabbitMQ's 404 NOT_FOUND. */
export function isNotFound(err: unknown): boolean {
  return replyCode(err) === 404;
}

/** True when RabbitMQ refused a publish (negative publisher confirm). */
export function isNacked(err: unknown): boolean {
  return err instanceof Error && err.message === 'message nacked';
}

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
