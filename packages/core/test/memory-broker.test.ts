import { describe, expect, it } from 'vitest';
import { type Delivery, MemoryBroker, MemoryBrokerStore, signature } from '../src/index.js';

async function until(check: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('MemoryBroker leases', () => {
  it('keeps a lease alive while its holder is open, even past leaseMs', async () => {
    const broker = new MemoryBroker({ leaseMs: 60 });
    const got: Delivery[] = [];
    await broker.consume('q', (d) => got.push(d), { concurrency: 2, prefetch: 0 });
    await broker.publish(signature('t', [], { routingKey: 'q' }));
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 250));
    expect(got).toHaveLength(1);
    expect(await got[0]?.ack()).toBe(true);
    await broker.close();
  });

  it('expires the lease of a closed holder, redelivers, and fences the stale token', async () => {
    const store = new MemoryBrokerStore();
    const holder = new MemoryBroker({ store, leaseMs: 80 });
    const first: Delivery[] = [];
    await holder.consume('q', (d) => first.push(d), { concurrency: 1, prefetch: 0 });
    await holder.publish(signature('t', [], { routingKey: 'q' }));
    await until(() => first.length === 1);
    await holder.close();
    const other = new MemoryBroker({ store, leaseMs: 80 });
    const second: Delivery[] = [];
    await other.consume('q', (d) => second.push(d), { concurrency: 1, prefetch: 0 });
    await until(() => second.length === 1);
    expect(second[0]?.attempt).toBe(2);
    expect(second[0]?.redelivered).toBe(true);
    expect(await first[0]?.ack()).toBe(false);
    expect(await first[0]?.extendLease?.(1000)).toBe(false);
    expect(await second[0]?.ack()).toBe(true);
    await other.close();
    store.dispose();
  });
});
