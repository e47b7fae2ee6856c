import { readFileSync } from 'node:fs';
import { CreateQueueCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  type Delivery,
  decodeSignature,
  defineTask,
  encodeSignature,
  encodeSignatureCompact,
  isMachineryError,
  MemoryBackend,
  Server,
  signature,
} from '@machinery/core';
import { eventually } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { admin, collect, connection, injectRaw, makeBroker, SQS_ENDPOINT, useTestContext } from './sqs.js';

const current = useTestContext();
const vectors = new URL('../../core/test/vectors/', import.meta.url);
const vector = (name: string) => readFileSync(new URL(name, vectors), 'utf8').trim();

describe('SqsBroker and Go Machinery', () => {
  it('sends the Signature JSON and no message attributes: compact by default, Go’s exact bytes with wireFormat go', async () => {
    const t = current();
    const compact = t.closer.add(makeBroker(t.ctx));
    const full = t.closer.add(makeBroker(t.ctx, { wireFormat: 'go' }));
    const a = signature('add', [1, 2n ** 60n], { headers: {} });
    const b = signature('add', [3, 4], { headers: {} });
    await compact.publish(a);
    await full.publish(b);
    const { QueueUrl } = await admin.send(new GetQueueUrlCommand({ QueueName: compact.defaultQueue }));
    const bodies = new Map<string, { body: string; attributes: unknown }>();
    await eventually(async () => {
      const out = await admin.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
      );
      for (const m of out.Messages ?? []) {
        const body = m.Body as string;
        bodies.set(decodeSignature(body).uuid, { body, attributes: m.MessageAttributes });
      }
      expect(bodies.size).toBe(2);
    });
    // Compact leaves out Go's zero values; Go's decoder fills them in, so a Go worker reads the same task.
    expect(bodies.get(a.uuid)?.body).toBe(encodeSignatureCompact(a));
    expect(decodeSignature(bodies.get(a.uuid)?.body as string).args).toEqual(a.args);
    expect(bodies.get(b.uuid)?.body).toBe(encodeSignature(b));
    expect(bodies.get(a.uuid)?.attributes).toBeUndefined();
    expect(bodies.get(b.uuid)?.attributes).toBeUndefined();
    expect(JSON.parse(bodies.get(a.uuid)?.body as string).RoutingKey).toBe(compact.defaultQueue);
  });

  it('consumes every Go-written message vector unchanged, with SQSReceiptHandle set as Go does', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx));
    const files = [
      'signature-plain.json',
      'signature-chain.json',
      'signature-chord-member.json',
      'signature-eta-retry.json',
    ];
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 4, ack: true });
    for (const f of files) await injectRaw(t.ctx, broker.defaultQueue, vector(f));
    await eventually(() => expect(got.deliveries).toHaveLength(files.length));
    for (const f of files) {
      const body = vector(f);
      const d = got.deliveries.find((x) => x.signature.uuid === decodeSignature(body).uuid) as Delivery;
      expect(d.signature.sqsReceiptHandle).toBe(d.token);
      expect(encodeSignature({ ...d.signature, sqsReceiptHandle: '' })).toBe(body);
    }
  });

  it('runs a task a Go producer sent', async () => {
    const t = current();
    const broker = makeBroker(t.ctx);
    const server = t.closer.add(new Server({ broker, backend: new MemoryBackend() }));
    const greet = defineTask('greet', (n: number, s: string) => `${s} ${n}`);
    server.register(greet);
    await server.worker({ handleSignals: false }).start();
    const body = vector('signature-plain.json').replace('"machinery_tasks"', `"${broker.defaultQueue}"`);
    await injectRaw(t.ctx, broker.defaultQueue, body);
    const result = server.result<string>(decodeSignature(body).uuid);
    expect(await result.get({ timeoutMs: 10_000 })).toBe('hello 42');
  });

  it('addresses queues as Go does: queueUrlPrefix + "/" + queue, without creating them', async () => {
    const t = current();
    const queue = `${t.ctx.namespace}_go`;
    await admin.send(new CreateQueueCommand({ QueueName: queue }));
    const broker = t.closer.add(
      makeBroker(t.ctx, {
        defaultQueue: queue,
        queueUrlPrefix: `${SQS_ENDPOINT}/000000000000/`,
        createQueues: false,
      }),
    );
    const got = await collect(t, broker, queue, { ack: true });
    await broker.publish(signature('via_prefix', [], { headers: {} }));
    await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['via_prefix']));
    const missing = await broker
      .publish(signature('nowhere', [], { routingKey: `${t.ctx.namespace}_missing` }))
      .catch((e: unknown) => e);
    expect(isMachineryError(missing, 'ERR_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toMatch(/createQueues/);
  });

  it('accepts what a sample app’s URL factory passes: endpoint, region, credentials, queueUrlPrefix', async () => {
    const t = current();
    const broker = t.closer.add(
      makeBroker(t.ctx, { ...connection, queueUrlPrefix: `${SQS_ENDPOINT}/000000000000` }),
    );
    const got = await collect(t, broker, broker.defaultQueue, { ack: true });
    await broker.publish(signature('factory', [], { headers: {} }));
    await eventually(() => expect(got.deliveries).toHaveLength(1));
  });
});
