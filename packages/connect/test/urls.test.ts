import { describe, expect, it } from 'vitest';
import { defaultBackendUrl, defaultLockUrl, isSupported } from '../src/index.js';
import { parseSqsUrl } from '../src/sqs-url.js';

describe('SQS URLs', () => {
  it('reads Go Machinery’s https form as a queue URL prefix in the host’s region', () => {
    expect(parseSqsUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/', 'broker')).toEqual({
      region: 'eu-west-1',
      queueUrlPrefix: 'https://sqs.eu-west-1.amazonaws.com/123456789012',
    });
  });

  it('reads sqs:// as a plain-HTTP endpoint with credentials and region from the URL', () => {
    expect(parseSqsUrl('sqs://AKID:s%2Fcret@127.0.0.1:4566?region=ap-south-1', 'broker')).toEqual({
      region: 'ap-south-1',
      endpoint: 'http://127.0.0.1:4566',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 's/cret' },
    });
  });

  it('leaves credentials to the AWS SDK when the URL has none, region us-east-1 by default', () => {
    expect(parseSqsUrl('sqs://localhost:9324', 'broker')).toEqual({
      region: 'us-east-1',
      endpoint: 'http://localhost:9324',
    });
  });

  it('refuses an sqs:// URL without a host', () => {
    expect(() => parseSqsUrl('sqs://', 'BROKER_URL=sqs://')).toThrow(
      /^BROKER_URL=sqs:\/\/ (has no host|is not a valid URL)/,
    );
  });
});

describe('defaults and schemes', () => {
  it('stores results on the broker’s server when it can, and never for SQS', () => {
    expect(defaultBackendUrl('REDISS://h:6380')).toBe('REDISS://h:6380');
    expect(defaultBackendUrl('amqps://h')).toBe('amqps://h');
    expect(defaultBackendUrl('memory://')).toBe('memory://');
    expect(defaultBackendUrl('postgres://u:p@h/db')).toBe('postgres://u:p@h/db');
    expect(defaultBackendUrl('postgresql://h/db')).toBe('postgresql://h/db');
    expect(defaultBackendUrl('sqs://h:1')).toBeUndefined();
    expect(defaultBackendUrl('https://sqs.us-east-1.amazonaws.com/1')).toBeUndefined();
  });

  it('takes the lock from the backend, then the broker, when it is Redis', () => {
    expect(defaultLockUrl('redis://broker', 'redis://backend')).toBe('redis://backend');
    expect(defaultLockUrl('redis://broker', 'memcache://m')).toBe('redis://broker');
    expect(defaultLockUrl('amqp://a', 'memcache://m')).toBe('memory://');
  });

  it('accepts https:// only for SQS brokers', () => {
    expect(isSupported('broker', 'https://sqs.us-east-1.amazonaws.com/1')).toBe(true);
    expect(isSupported('broker', 'https://sqs-fips.us-east-1.amazonaws.com/1')).toBe(true);
    expect(isSupported('broker', 'https://example.com')).toBe(false);
    expect(isSupported('backend', 'https://sqs.us-east-1.amazonaws.com/1')).toBe(false);
    expect(isSupported('lock', 'memcache://m')).toBe(false);
    expect(isSupported('broker', 'postgresql://h/db')).toBe(true);
    expect(isSupported('backend', 'POSTGRES://h/db')).toBe(true);
    expect(isSupported('lock', 'postgres://h/db')).toBe(false);
  });
});
