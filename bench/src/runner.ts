import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, WorkerConfig } from './systems/types.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

/** A worker child process and the messages it sends. */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly waiters: { match: (m: ChildMessage) => boolean; resolve: (m: ChildMessage) => void }[] =
    [];
  private readonly exited: Promise<number | null>;
  readonly messages: ChildMessage[] = [];

  constructor(config: WorkerConfig) {
    // MACHINERY_BENCH_PROFILE=<dir> writes a V8 CPU profile of every worker child into <dir>.
    const profile = process.env.MACHINERY_BENCH_PROFILE;
    const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    this.child = spawn(process.execPath, [...flags, CHILD, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const rl = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      let m: ChildMessage;
      try {
        m = JSON.parse(line) as ChildMessage;
      } catch {
        return;
      }
      this.messages.push(m);
      for (const w of [...this.waiters]) {
        if (w.match(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first message (past or future) of the given kind. */
  next<E extends ChildMessage['event']>(
    event: E,
    timeoutMs = 600_000,
  ): Promise<Extract<ChildMessage, { event: E }>> {
    const seen = this.messages.find((m) => m.event === event);
    if (seen) return Promise.resolve(seen as Extract<ChildMessage, { event: E }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker child sent no "${event}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match: (m) => m.event === event,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ChildMessage, { event: E }>);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`worker child exited (${code}) before "${event}"`));
      });
    });
  }

  /** Tells a ready child to start consuming. */
  go(): void {
    this.child.stdin?.write('go\n');
  }

  /** SIGKILL. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Waits for exit (killing after `ms`). */
  async stop(ms = 10_000): Promise<void> {
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    this.child.stdin?.end();
    await this.exited;
    clearTimeout(t);
  }
}
