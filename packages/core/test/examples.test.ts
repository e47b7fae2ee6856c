import { expect, it } from 'vitest';
import { main as flowControl } from '../examples/flow-control.js';
import { main as headerPropagation } from '../examples/header-propagation.js';
import { main as timing } from '../examples/timing.js';

it('runs the timing example: each task logged with its outcome and duration', async () => {
  const lines: string[] = [];
  await timing((line) => lines.push(line));
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(/^add: succeeded after \d+\.\d ms \(attempt 1\)$/);
  expect(lines[1]).toBe('add(1, 2) = 3');
  expect(lines[2]).toMatch(/^broken: failed after \d+\.\d ms \(attempt 1\)$/);
  expect(lines[3]).toBe('broken: FAILURE (out of order)');
});

it('runs the header-propagation example: the task sees the request id its producer had', async () => {
  const lines: string[] = [];
  await headerPropagation((line) => lines.push(line));
  expect(lines).toEqual(['hello Ada, for request req-7']);
});

it('runs the flow-control example: limited tasks all run, a duplicate gets the first result', async () => {
  const lines: string[] = [];
  await flowControl((line) => lines.push(line));
  expect(lines).toEqual([
    'fetched /a /b /c /d',
    'report for acme, report for acme',
    'duplicate answered with the first task: true',
  ]);
});
