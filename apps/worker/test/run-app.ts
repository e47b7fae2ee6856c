import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const apps = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built entry points the tests run, as a user runs them (`node dist/main.js`). */
export const SCRIPTS = {
  producer: join(apps, 'producer', 'dist', 'main.js'),
  worker: join(apps, 'worker', 'dist', 'main.js'),
  demo: join(apps, 'worker', 'dist', 'demo.js'),
} as const;

/** How a run of an app ended. */
export interface AppExit {
  /** Exit code; `null` when it ended by a signal or had to be killed. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when it was still running after the bound and was killed. */
  hung: boolean;
}

function start(app: keyof typeof SCRIPTS, env: Record<string, string>): ChildProcess {
  // Only what the test sets: a BROKER_URL in the developer's shell must not leak into a case.
  return spawn(process.execPath, [SCRIPTS[app]], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

async function exitOf(
  child: ChildProcess,
  out: ReturnType<typeof collect>,
  boundMs: number,
): Promise<AppExit> {
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, boundMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code: hung ? null : code, signal, stdout: out.stdout(), stderr: out.stderr(), hung };
}

/**
 * Runs an app to its end. `boundMs` is not a timing assertion but a guard: an app that should fail
 * at once and is still running after it is killed and reported as `hung`, which the caller asserts.
 */
export async function runApp(
  app: keyof typeof SCRIPTS,
  env: Record<string, string>,
  boundMs = 20_000,
): Promise<AppExit> {
  const child = start(app, env);
  return exitOf(child, collect(child), boundMs);
}

/** A worker process that announced it is consuming. */
export interface RunningWorker {
  /** Sends SIGTERM and waits for it to exit. */
  stop(): Promise<AppExit>;
}

/** Starts the sample worker and resolves once it says it is consuming; rejects with its output if it exits first. */
export async function startWorker(env: Record<string, string>, boundMs = 20_000): Promise<RunningWorker> {
  const child = start('worker', env);
  const out = collect(child);
  const exited = exitOf(child, out, 120_000);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not consuming after ${boundMs} ms:\n${out.stderr()}`)),
      boundMs,
    );
    child.stdout?.on('data', () => {
      if (out.stdout().includes('worker consuming')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${e.code}:\n${e.stdout}\n${e.stderr}`));
    });
  });
  await ready;
  return {
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The last non-empty line of `text` (an app's error line comes last on stderr). */
export function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}
