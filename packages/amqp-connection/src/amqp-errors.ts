/** The AMQP reply code of an amqplib error (404 NOT_FOUND, 406 PRECONDITION_FAILED, 403 ACCESS_REFUSED…). */
export function replyCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True for RabbitMQ's 404 NOT_FOUND (a queue or exchange that does not exist). */
export function isNotFound(err: unknown): boolean {
  return replyCode(err) === 404;
}

/** True when RabbitMQ refused a publish (a negative publisher confirm, amqplib's "message nacked"). */
export function isNacked(err: unknown): boolean {
  return (err as { message?: unknown } | null)?.message === 'message nacked';
}
