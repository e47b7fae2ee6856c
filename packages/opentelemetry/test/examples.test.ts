import { freePort } from '@machinery/test-services';
import { expect, it } from 'vitest';
import { main as prometheus } from '../examples/prometheus.js';

it('runs the Prometheus example: the scrape on 127.0.0.1 serves task counts, durations and queue depths', async () => {
  const lines: string[] = [];
  await prometheus((line) => lines.push(line), await freePort());
  const sample = (prefix: string) => lines.find((l) => l.startsWith(prefix));
  expect(sample('machinery_tasks_processed_total{')).toBeDefined();
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^machinery_tasks_processed_total\{(?=.*machinery_task_name="add")(?=.*machinery_task_outcome="succeeded")(?=.*messaging_destination_name="machinery_tasks").*\} 3$/,
    ),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^machinery_tasks_processed_total\{(?=.*machinery_task_name="broken")(?=.*machinery_task_outcome="failed").*\} 1$/,
    ),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(/^machinery_tasks_sent_total\{(?=.*machinery_task_name="add").*\} 3$/),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(/^machinery_task_duration_count\{(?=.*machinery_task_name="add").*\} 3$/),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^machinery_task_duration_bucket\{(?=.*machinery_task_name="add").*le="0.005"\} \d$/,
    ),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(
      /^machinery_queue_pending\{(?=.*messaging_destination_name="machinery_tasks").*\} 0$/,
    ),
  );
});
