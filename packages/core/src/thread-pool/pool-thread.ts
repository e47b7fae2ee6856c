import { type ResourceLimits, Worker as Thread } from 'node:worker_threads';
import type { TaskResult } from '../arg.js';
import type { ThreadMessage, ThrownError } from './thread-protocol.js';

/** What a {@link PoolThread} tells its pool about the task it runs. */
export interface PoolThreadEvents {
  /** The thread is ready for its first task. */
  ready(thread: PoolThread): void;
  /** The task returned. */
  result(thread: PoolThread, id: number, results: readonly TaskResult[]): void;
  /** The task threw. */
  error(thread: PoolThread, id: number, error: ThrownError): void;
  /** The task reported progress or logged (relayed to the worker's run). */
  message(message: ThreadMessage): void;
  /**
   * The thread ended: terminated by the pool, or died — `error` is why (an uncaught error, Node's
   * `ERR_WORKER_OUT_OF_MEMORY`), `undefined` for `process.exit` or a termination.
   */
  exit(thread: PoolThread, code: number, error: Error | undefined): void;
}

const ENTRY = new URL('./thread-entry.js', import.meta.url);

/** One thread of the pool: spawns `thread-entry.js` and turns its messages into calls on its pool. */
export class PoolThread {
  /**
   * Ids of the tasks sent to it, in order: the first runs, the next waits in the thread so that it
   * starts the moment the first ends, without a round trip to the worker's thread in between.
   */
  readonly jobIds: number[] = [];
  /** Set once `ready` came: until then a death is a failure to start. */
  isReady = false;
  /** The pool terminated it on purpose (time limit, abort, close). */
  terminating = false;
  private readonly thread: Thread;
  private error: Error | undefined;

  constructor(module: string, resourceLimits: ResourceLimits | undefined, events: PoolThreadEvents) {
    this.thread = new Thread(ENTRY, {
      workerData: { module },
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    });
    // Threads never keep the process alive: the worker's broker connection does while it runs.
    this.thread.unref();
    this.thread.on('message', (m: ThreadMessage) => {
      switch (m.type) {
        case 'ready':
          this.isReady = true;
          events.ready(this);
          break;
        case 'result':
          events.result(this, m.id, m.results);
          break;
        case 'error':
          events.error(this, m.id, m.error);
          break;
        default:
          events.message(m);
      }
    });
    this.thread.on('error', (err) => {
      this.error = err;
    });
    this.thread.on('exit', (code) => events.exit(this, code, this.error));
  }

  /** Hands the thread a message (a task to run). */
  post(message: unknown): void {
    this.thread.postMessage(message);
  }

  /** Stops the thread at once, whatever it runs; `exit` follows. Resolves once it has stopped. */
  async terminate(): Promise<void> {
    this.terminating = true;
    await this.thread.terminate();
  }
}
