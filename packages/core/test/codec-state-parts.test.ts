import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeTaskState,
  decodeTaskStatus,
  encodeTaskState,
  encodeTaskStateParts,
  type TaskState,
  TaskStatus,
  toResult,
} from '../src/index.js';

const dir = fileURLToPath(new URL('./vectors/', import.meta.url));
const stateVectors = readdirSync(dir).filter((f) => f.startsWith('state-'));

function state(extra: Partial<TaskState>): TaskState {
  return {
    taskUUID: 'task_1',
    taskName: 'add',
    state: TaskStatus.SUCCESS,
    results: null,
    error: '',
    createdAt: new Date('2026-12-04T10:00:00.123Z'),
    ttl: 0,
    ...extra,
  };
}

const awkward: TaskState[] = [
  state({}),
  state({ taskName: '', state: TaskStatus.PENDING }),
  state({ taskName: 'say "State":"SUCCESS", \\ ünïcödé \u2028', error: '"CreatedAt":"x","TTL":1}' }),
  state({ results: [toResult('"TaskName":"evil"'), toResult(2n ** 63n)], ttl: 7 }),
  state({ taskUUID: 'task_"quoted"', state: TaskStatus.FAILURE, error: 'boom' }),
];

describe('codec: TaskState parts', () => {
  it('joins to exactly encodeTaskState, for every state vector and for awkward names and values', () => {
    const states = [
      ...stateVectors.map((f) => decodeTaskState(readFileSync(dir + f, 'utf8').trim())),
      ...awkward,
    ];
    for (const s of states) {
      const p = encodeTaskStateParts(s);
      expect(p.head + p.taskName + p.middle + p.createdAt + p.tail).toBe(encodeTaskState(s));
      expect(JSON.parse(p.taskName)).toBe(s.taskName);
      expect(new Date(JSON.parse(p.createdAt) as string).getTime()).toBe(s.createdAt.getTime());
    }
  });

  it('lets another name and creation time be put in their place', () => {
    const p = encodeTaskStateParts(state({ taskName: '' }));
    const earlier = encodeTaskStateParts(state({ taskName: 'kept "name"', createdAt: new Date(0) }));
    const merged = decodeTaskState(p.head + earlier.taskName + p.middle + earlier.createdAt + p.tail);
    expect(merged.taskName).toBe('kept "name"');
    expect(merged.createdAt.getTime()).toBe(0);
    expect(merged.state).toBe(TaskStatus.SUCCESS);
  });
});

describe('codec: decodeTaskStatus', () => {
  it('reads the status of our encoding, whatever the names and values hold', () => {
    for (const s of awkward) expect(decodeTaskStatus(encodeTaskState(s))).toBe(s.state);
  });

  it('reads the status of JSON in another key order or spacing (a foreign writer)', () => {
    expect(decodeTaskStatus('{"State" : "STARTED", "TaskUUID": "task_1"}')).toBe(TaskStatus.STARTED);
    expect(() => decodeTaskStatus('{"TaskUUID":"task_1"}')).toThrow();
  });
});
