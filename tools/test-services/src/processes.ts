import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * Kills `child` with SIGKILL (a crash, not a shutdown: nothing is flushed) and waits until it exited.
 * Does nothing when it has exited already.
 */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
