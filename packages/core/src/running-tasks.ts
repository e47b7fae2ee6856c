import type { TaskRun } from './task-run.js';

/**
 * The runs a worker holds in its slots, kept in an array: adding and removing are O(1) (a removed run's
 * place goes to the last one), iteration order is not kept.
 *
 * Not a `Set`: one run comes and goes per task, and a churned long-lived `Set` keeps every run it
 * ever held reachable for the young generation's collector (see `Dictionary` for why).
 */
export class RunningTasks implements Iterable<TaskRun> {
  private readonly runs: TaskRun[] = [];

  get size(): number {
    return this.runs.length;
  }

  add(run: TaskRun): void {
    run.slot = this.runs.length;
    this.runs.push(run);
  }

  delete(run: TaskRun): void {
    const i = run.slot;
    if (i < 0 || this.runs[i] !== run) return;
    const last = this.runs.pop() as TaskRun;
    if (last !== run) {
      this.runs[i] = last;
      last.slot = i;
    }
    run.slot = -1;
  }

  [Symbol.iterator](): Iterator<TaskRun> {
    return this.runs[Symbol.iterator]();
  }
}
