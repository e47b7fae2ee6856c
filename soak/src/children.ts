import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RunConfig, WorkerMessage } from './config.js';

const ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Every child process alive, so that any exit path of the runner can kill them. */
const alive = new Set<ChildProcess>();

/** SIGKILLs every worker process still running (synchronous: safe in an `exit` handler). */
export function killAllChildren(): void {
  for (const child of alive) child.kill('SIGKILL');
  alive.clear();
}

/** One RSS sample of a worker process. */
export interface RssSample {
  at: number;
  rss: number;
  heap: number;
}

/**
 * A soak worker slot: one child process at a time. `kill()` SIGKILLs the current process and
 * `restart()` spawns the next one; the slot keeps the RSS samples of all its processes.
 */
export class WorkerSlot {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readyWaiters: (() => void)[] = [];
  private isReady = false;
  /** RSS samples of the slot's current process (cleared when a new process starts). */
  samples: RssSample[] = [];
  /** Processes started in this slot. */
  starts = 0;
  /** Worker-reported background errors of the current process (logged to its stderr). */
  errors = 0;
  /** Every process of the slot: pid, start and end (ms since epoch), and how it ended. */
  readonly history: { pid: number; label: string; started: number; ended?: number; how?: string }[] = [];
  /** Exits nobody asked for (a crash, not a kill by the runner). */
  unexpectedExits: string[] = [];
  private expectingExit = false;

  constructor(
    readonly name: string,
    private readonly config: RunConfig,
    private readonly log: WriteStream,
  ) {}

  /** Opens the log file all processes of a slot share. */
  static logFile(path: string): WriteStream {
    return createWriteStream(path, { flags: 'a' });
  }

  /** Spawns a process and resolves once its worker consumes (bounded by `timeoutMs`). */
  async start(timeoutMs = 60_000): Promise<void> {
    this.isReady = false;
    this.samples = [];
    this.errors = 0;
    this.expectingExit = false;
    this.starts++;
    const child = spawn(process.execPath, [ENTRY, JSON.stringify(this.config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    alive.add(child);
    const entry: (typeof this.history)[number] = {
      pid: child.pid ?? 0,
      label: `${this.name}#${this.starts}`,
      started: Date.now(),
    };
    this.history.push(entry);
    this.log.write(`--- ${new Date().toISOString()} ${this.name} start #${this.starts} pid ${child.pid}\n`);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      this.log.write(`${this.name}#${this.starts} ${line}\n`),
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let m: WorkerMessage;
      try {
        m = JSON.parse(line) as WorkerMessage;
      } catch {
        this.log.write(`${line}\n`);
        return;
      }
      if (m.t === 'ready') {
        this.isReady = true;
        for (const w of this.readyWaiters.splice(0)) w();
      } else if (m.t === 'rss') {
        this.samples.push({ at: Date.now(), rss: m.rss, heap: m.heap });
        this.errors = m.errors;
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        alive.delete(child);
        entry.ended = Date.now();
        entry.how = this.expectingExit
          ? signal === 'SIGKILL'
            ? 'SIGKILLed'
            : 'stopped'
          : `crashed (${code ?? signal})`;
        this.log.write(
          `--- ${new Date().toISOString()} ${this.name} pid ${child.pid} exited ${code ?? signal}\n`,
        );
        if (!this.expectingExit) this.unexpectedExits.push(`${this.name}: exit ${code ?? signal}`);
        for (const w of this.readyWaiters.splice(0)) w();
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start consuming within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        if (this.isReady) resolve();
        else reject(new Error(`${this.name} exited before it was ready (see its log)`));
      });
    });
  }

  /** True while a process runs and consumes. */
  get ready(): boolean {
    return this.isReady && this.child !== undefined && this.child.exitCode === null;
  }

  /** SIGKILLs the current process and waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.expectingExit = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the current process to stop (SIGTERM), SIGKILLs it after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
