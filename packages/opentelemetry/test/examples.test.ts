import { randomUUID } from 'node:crypto';
import { deleteKeys, freePort, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { afterEach, expect, it } from 'vitest';
import { start } from '../examples/prometheus.mjs';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

it('runs the Prometheus example on Redis: a scrape of its endpoint serves task counts, durations, latency and queue depths', async () => {
  const prefix = prefixOf(`otel-example-${randomUUID()}`);
  const admin = rawClient(REDIS_URL);
  cleanup.push(
    () => void admin.disconnect(),
    () => deleteKeys(admin, prefix),
  );
  const example = await start({ redisUrl: REDIS_URL, prefix, port: await freePort() });
  cleanup.push(() => example.close());
  // What Prometheus (or curl) does: a GET of the endpoint, text exposition format back.
  const response = await fetch(example.url);
  expect(response.status).toBe(200);
  const lines = (await response.text()).split('\n').filter((l) => l.startsWith('machinery_'));
  const has = (pattern: RegExp) => expect(lines).toContainEqual(expect.stringMatching(pattern));
  has(
    /^machinery_tasks_processed_total\{(?=.*machinery_task_name="add")(?=.*machinery_task_outcome="succeeded")(?=.*messaging_destination_name="prometheus_example").*\} 3$/,
  );
  has(
    /^machinery_tasks_processed_total\{(?=.*machinery_task_name="broken")(?=.*machinery_task_outcome="failed").*\} 1$/,
  );
  has(/^machinery_tasks_sent_total\{(?=.*machinery_task_name="add").*\} 3$/);
  has(/^machinery_task_duration_count\{(?=.*machinery_task_name="add").*\} 3$/);
  has(/^machinery_task_duration_bucket\{(?=.*machinery_task_name="add").*le="0.005"\} \d$/);
  has(/^machinery_task_latency_count\{(?=.*machinery_task_name="add").*\} 3$/);
  has(/^machinery_tasks_running\{(?=.*machinery_task_name="add").*\} 0$/);
  has(/^machinery_queue_pending\{(?=.*messaging_destination_name="prometheus_example").*\} 0$/);
});
