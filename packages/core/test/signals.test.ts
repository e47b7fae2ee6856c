import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

// The fixture runs on the built package (`@machinery/core` resolves to dist), as a user's app would.
const fixture = fileURLToPath(new URL('./fixtures/signal-worker.mjs', import.meta.url));
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Run {
  readonly lines: string[];
  /** Resolves when a line equal to (or starting with) `text` was printed. */
  printed(text: string): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly child: ChildProcess;
}

function runWorker(taskName: string): Run {
  if (!existsSync(built)) throw new Error(`${built} is missing: run "pnpm build" first.`);
  const child = spawn(process.execPath, [fixture, taskName], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.filter((x) => line.startsWith(x.text))) w.resolve();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    lines,
    child,
    exited,
    printed: (text) =>
      lines.some((l) => l.startsWith(text))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ text, resolve })),
  };
}

it('ends the process on SIGTERM once the running task is stored, although other handles stay open', async () => {
  const run = runWorker('slow');
  await run.printed('started');
  run.child.kill('SIGTERM');
  const exit = await run.exited;
  expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
  expect(run.lines).toEqual([
    'started',
    'warn signal received: stopping (send again to abort running tasks)',
    'succeeded',
    'stopped',
  ]);
}, 20_000);

it('a second SIGINT hands the running task back, then the process ends', async () => {
  const run = runWorker('stubborn');
  await run.printed('started');
  run.child.kill('SIGINT');
  await run.printed('warn signal received');
  run.child.kill('SIGINT');
  const exit = await run.exited;
  expect(exit).toEqual({ code: null, signal: 'SIGINT' });
  expect(run.lines.slice(-2)).toEqual(['handedBack', 'stopped']);
}, 20_000);
