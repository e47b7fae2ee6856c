import { type ErrorCode, isMachineryError, MachineryError, redactText } from '@machinery/core';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

function asSdk(err: unknown): SdkError {
  return typeof err === 'object' && err !== null ? (err as SdkError) : {};
}

/** True for the error an aborted request (our own `close()`) rejects with. */
export function isAbort(err: unknown): boolean {
  return asSdk(err).name === 'AbortError';
}

/** The queue does not exist (SQS names it two ways). */
export function isQueueMissing(err: unknown): boolean {
  const name = asSdk(err).name ?? '';
  return name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue';
}

/**
 * The receipt handle no longer names an in-flight message: it was deleted, its visibility expired and
 * someone else received it, or it is simply stale. Real SQS reports this three ways.
 */
export function isStaleReceipt(err: unknown): boolean {
  const e = asSdk(err);
  const name = e.name ?? '';
  if (name === 'ReceiptHandleIsInvalid' || name === 'MessageNotInflight') return true;
  return name === 'InvalidParameterValue' && /receipt handle/i.test(e.message ?? '');
}

/** Same, for a failed entry of a batch response (`Code` instead of an exception name). */
export function isStaleReceiptCode(code: string | undefined, message = ''): boolean {
  if (code === 'ReceiptHandleIsInvalid' || code === 'MessageNotInflight') return true;
  return code === 'InvalidParameterValue' && /receipt handle/i.test(message);
}

function codeFor(e: SdkError): ErrorCode {
  if (isQueueMissing(e)) return 'ERR_NOT_FOUND';
  if (/shorter than|too long|BatchRequestTooLong/i.test(`${e.name} ${e.message}`))
    return 'ERR_PAYLOAD_TOO_LARGE';
  // No HTTP status means the request never got an answer: refused, reset, DNS, timeout.
  if (e.$metadata?.httpStatusCode === undefined || e.$fault === 'server') return 'ERR_CONNECTION';
  return 'ERR_INVALID_ARGUMENT';
}

/** AWS's names for a request whose credentials were refused (unknown key, bad signature, no permission). */
const CREDENTIAL_ERRORS =
  /^(InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|IncompleteSignature|AccessDenied(Exception)?|ExpiredToken|InvalidAccessKeyId|MissingAuthenticationToken)$/;

/** True when SQS refused the request's credentials rather than the request itself. */
export function isCredentialError(err: unknown): boolean {
  const e = asSdk(err);
  return CREDENTIAL_ERRORS.test(e.name ?? '') || CREDENTIAL_ERRORS.test(e.code ?? '');
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  ERR_NOT_FOUND: 'Create the queue, or enable the createQueues option.',
  ERR_CONNECTION:
    'Check that SQS (or the SQS-compatible endpoint) is reachable and the region and credentials are right.',
  ERR_PAYLOAD_TOO_LARGE: 'Store large data elsewhere and pass a reference.',
  ERR_INVALID_ARGUMENT: 'SQS refused the request; the message above says why.',
};

/** Wraps an SDK failure as a {@link MachineryError} that says what failed and what to do. */
export function sqsError(err: unknown, action: string, queue: string): MachineryError {
  if (isMachineryError(err)) return err;
  const e = asSdk(err);
  const code = codeFor(e);
  // Without a final period: the message goes on after it.
  const detail = redactText(e.message ?? String(err)).replace(/\.\s*$/, '');
  if (isCredentialError(e)) {
    return new MachineryError(
      'ERR_CONNECTION',
      `SQS refused the credentials for ${action} on queue "${queue}": ${e.name}: ${detail}. Check the access key, secret and region (or the IAM permissions of the role); retrying will not help until they are fixed.`,
      { cause: err },
    );
  }
  return new MachineryError(
    code,
    `SQS ${action} on queue "${queue}" failed: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${detail}. ${HINTS[code] ?? ''}`.trim(),
    { cause: err },
  );
}
