import {
  DeleteQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  SendMessageCommand,
  type SendMessageCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Delivery, Logger } from '@machinery/core';
import { type AdapterContext, Closer, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { SqsBroker, type SqsBrokerOptions } from '../src/index.js';

/** The SQS-protocol test server (fauxqs from `node scripts/services.mjs up sqs`). */
export const SQS_ENDPOINT = process.env.SQS_ENDPOINT ?? 'http://127.0.0.1:4566';

/** Helpers bound to one SQS endpoint: the shared test server, or a test's private one. */
export function sqsTools(endpoint: string) {
  const connection = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  } as const;
  /** A client of the tests' own, for raw traffic and cleanup (destroyed after the file). */
  const admin = new SQSClient(connection);
  afterAll(() => admin.destroy());

  return {
    connection,
    admin,
    /** A broker for one test: its queues are named after the test's namespace. */
    makeBroker(ctx: AdapterContext, extra: SqsBrokerOptions = {}): SqsBroker {
      return new SqsBroker({
        ...connection,
        defaultQueue: `${ctx.namespace}_tasks`,
        visibilityTimeoutMs: ctx.redeliveryTimeoutMs,
        ...extra,
      });
    },
    /** Sends a raw body, bypassing the codec — what a foreign or broken producer does. */
    async injectRaw(
      _ctx: AdapterContext,
      queue: string,
      body: string,
      extra: Partial<SendMessageCommandInput> = {},
    ): Promise<void> {
      const { QueueUrl } = await admin.send(new GetQueueUrlCommand({ QueueName: queue }));
      await admin.send(new SendMessageCommand({ QueueUrl, MessageBody: body, ...extra }));
    },
    /** Deletes every queue of the test's namespace (and only those). */
    async cleanup({ namespace }: { namespace: string }): Promise<void> {
      let token: string | undefined;
      const urls: string[] = [];
      do {
        const out = await admin.send(
          new ListQueuesCommand({ QueueNamePrefix: namespace, MaxResults: 1000, NextToken: token }),
        );
        urls.push(...(out.QueueUrls ?? []));
        token = out.NextToken;
      } while (token);
      await Promise.all(urls.map((QueueUrl) => admin.send(new DeleteQueueCommand({ QueueUrl }))));
    },
  };
}

const shared = sqsTools(SQS_ENDPOINT);
/** Connection settings fauxqs accepts (any region, any credentials). */
export const connection = shared.connection;
/** The tests' own client on the shared server. */
export const admin = shared.admin;
export const makeBroker = shared.makeBroker;
export const injectRaw = shared.injectRaw;
export const cleanup = shared.cleanup;

/** A message as fauxqs's inspection endpoint shows it. */
export interface InspectedMessage {
  body: string;
  delayUntil?: number;
  approximateReceiveCount: number;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  messageAttributes: Record<string, { DataType: string; StringValue?: string }>;
}

/** Non-destructive view of a queue on fauxqs (`GET /_fauxqs/queues/<name>`); test-server only. */
export async function inspectQueue(name: string): Promise<{
  ready: InspectedMessage[];
  delayed: InspectedMessage[];
  inflight: { message: InspectedMessage }[];
}> {
  const res = await fetch(`${SQS_ENDPOINT}/_fauxqs/queues/${encodeURIComponent(name)}`);
  if (!res.ok) throw new Error(`fauxqs inspection of ${name} answered ${res.status}`);
  return ((await res.json()) as { messages: never }).messages;
}

/** A logger that keeps every line, for assertions on what the broker reported. */
export function recordingLogger(): { lines: { level: string; msg: string; obj: object }[] } & Logger {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at =
    (level: string) =>
    (a: object | string, b?: string): void => {
      lines.push(typeof a === 'string' ? { level, msg: a, obj: {} } : { level, msg: b ?? '', obj: a });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never;
}

/** Per-test namespace and closer for the specific tests (the suites have their own harness). */
export function useTestContext(): () => { ctx: AdapterContext; closer: Closer } {
  let current: { ctx: AdapterContext; closer: Closer } | undefined;
  beforeEach(() => {
    current = { ctx: { namespace: uniqueNamespace(), redeliveryTimeoutMs: 1000 }, closer: new Closer() };
  });
  afterEach(async () => {
    const c = current;
    current = undefined;
    if (!c) return;
    await c.closer.closeAll();
    await cleanup(c.ctx);
  });
  return () => {
    if (!current) throw new Error('only inside a test');
    return current;
  };
}

/** Consumes `queue`, recording deliveries (and acknowledging them when `ack`). */
export async function collect(
  t: { closer: Closer },
  broker: SqsBroker,
  queue: string,
  options: { concurrency?: number; prefetch?: number; ack?: boolean } = {},
): Promise<{ deliveries: Delivery[]; at: number[] }> {
  const out = { deliveries: [] as Delivery[], at: [] as number[] };
  const consumer = await broker.consume(
    queue,
    (d) => {
      out.deliveries.push(d);
      out.at.push(Date.now());
      if (options.ack) void d.ack();
    },
    { concurrency: options.concurrency ?? 1, prefetch: options.prefetch ?? 0 },
  );
  t.closer.add({ close: () => consumer.stop() });
  return out;
}
