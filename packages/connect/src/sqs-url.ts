import { MachineryError } from '@machinery/core';

/** What an SQS URL says about the client to build (the options of `SqsBroker`). */
export interface SqsUrlOptions {
  region: string;
  endpoint?: string;
  queueUrlPrefix?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** True for Go Machinery's form, `https://sqs.<region>.amazonaws.com/<account>` (or a VPC endpoint `https://sqs-…`). */
export function isSqsHttpsUrl(url: string): boolean {
  return /^https:\/\/sqs[.-]/i.test(url);
}

/**
 * Reads an SQS broker URL. Go Machinery's form `https://sqs.<region>.amazonaws.com/<account>` is a
 * queue URL prefix (queue names are appended to it). `sqs://[key:secret@]host:port[?region=…]` is an
 * SQS-compatible endpoint over plain HTTP (a local test server, say). Without credentials in the URL
 * the AWS SDK's default chain supplies them.
 */
export function parseSqsUrl(url: string, describe: string): SqsUrlOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MachineryError('ERR_INVALID_ARGUMENT', `${describe} is not a valid URL.`);
  }
  const region =
    u.searchParams.get('region') ?? /^sqs[.-](?:fips\.)?([a-z0-9-]+)\./i.exec(u.hostname)?.[1] ?? 'us-east-1';
  if (u.protocol === 'https:') {
    u.search = '';
    return { region, queueUrlPrefix: u.toString().replace(/\/+$/, '') };
  }
  if (u.host === '') {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${describe} has no host: use sqs://host:port?region=… for an SQS-compatible endpoint, or https://sqs.<region>.amazonaws.com/<account> for AWS.`,
    );
  }
  const options: SqsUrlOptions = { region, endpoint: `http://${u.host}` };
  if (u.username !== '') {
    options.credentials = {
      accessKeyId: decodeURIComponent(u.username),
      secretAccessKey: decodeURIComponent(u.password),
    };
  }
  return options;
}
