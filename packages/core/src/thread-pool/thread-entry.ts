// The program of one pool thread: loads the task module named in `workerData`, then runs one task at a
// time as the pool asks. Arguments arrive in wire form and results leave in wire form, both converted
// by the codec's rules here, so a task sees exactly the values it would see in the worker's own thread.
import { parentPort, workerData } from 'node:worker_threads';
import { taskArguments, taskResults } from '../argument-conversion.js';
import { decodeSignature } from '../codec.js';
import { isMachineryError, MachineryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskContext } from '../task.js';
import type { AnyTaskDefinition } from '../task-registry.js';
import { findTasks } from './find-tasks.js';
import { type CancelMessage, type RunMessage, type ThreadMessage, toThrownError } from './thread-protocol.js';

const port = parentPort;
if (port === null)
  throw new Error('thread-entry.js runs only as a worker thread of a Machinery thread pool.');
const send = (message: ThreadMessage) => port.postMessage(message);

function threadLogger(id: number): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (objOrMsg: object | string, msg?: string): void => {
      const obj = typeof objOrMsg === 'string' ? {} : { ...(objOrMsg as Record<string, unknown>) };
      const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
      try {
        send({ type: 'log', id, level, obj, msg: text });
      } catch {
        // A field that cannot be cloned (a function, a socket) is dropped rather than fail the task.
        send({ type: 'log', id, level, obj: {}, msg: text });
      }
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as Logger;
}

async function run(tasks: Map<string, AnyTaskDefinition>, m: RunMessage): Promise<void> {
  try {
    const signature = decodeSignature(m.body);
    const task = tasks.get(signature.name);
    if (task === undefined) {
      throw new MachineryError(
        'ERR_TASK_NOT_REGISTERED',
        `Task "${signature.name}" is registered on the worker but not exported by the thread pool's module ${String(workerData.module)}. Export it from that module.`,
      );
    }
    const args = taskArguments(signature.args, task);
    // The signal never fires here: the pool ends a task it gives up on by terminating its thread.
    const context: TaskContext = {
      signature,
      attempt: m.attempt,
      token: m.token,
      signal: new AbortController().signal,
      logger: threadLogger(m.id),
      progress: (data) => send({ type: 'progress', id: m.id, data }),
    };
    const value = await (task.fn as (...a: unknown[]) => unknown).apply(context, args);
    if (isMachineryError(value, 'ERR_RETRY_LATER')) throw value;
    send({ type: 'result', id: m.id, results: taskResults(value) });
  } catch (err) {
    send({ type: 'error', id: m.id, error: toThrownError(err) });
  }
}

// A module that fails to load rejects here: the rejection ends the thread, and the pool reports it.
void import(String(workerData.module)).then((module: Record<string, unknown>) => {
  const tasks = findTasks(module);
  // One task at a time, in the order sent: the pool sends the next one before this one ends, and may
  // cancel it before it starts. Each start waits a turn of the loop, so that a cancellation sent while
  // the task before it ran is read first.
  const waiting = new Set<number>();
  let queue = Promise.resolve();
  port.on('message', (m: RunMessage | CancelMessage) => {
    if (m.type === 'cancel') {
      waiting.delete(m.id);
      return;
    }
    waiting.add(m.id);
    queue = queue
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(() => (waiting.delete(m.id) ? run(tasks, m) : undefined));
  });
  send({ type: 'ready', names: [...tasks.keys()] });
});
