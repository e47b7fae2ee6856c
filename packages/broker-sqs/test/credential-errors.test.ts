import { SQSServiceException } from '@aws-sdk/client-sqs';
import { isMachineryError } from '@machinery/core';
import { expect, it } from 'vitest';
import { sqsError } from '../src/errors.js';

// fauxqs accepts any credentials, so what real SQS answers to refused ones is built here, with the
// SDK's own exception class and the names AWS documents.
function refused(name: string): SQSServiceException {
  return new SQSServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'The security token included in the request is invalid.',
  });
}

it('names refused credentials as such, not as a refused request', () => {
  for (const name of ['InvalidClientTokenId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken']) {
    const err = sqsError(refused(name), 'SendMessage', 'machinery_tasks');
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(/^SQS refused the credentials for SendMessage on queue "machinery_tasks"/);
    expect(err.message).toContain(name);
  }
});

it('keeps other client errors as invalid requests', () => {
  const err = sqsError(refused('InvalidParameterValue'), 'SendMessage', 'machinery_tasks');
  expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
});
