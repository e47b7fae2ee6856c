import { MachineryError } from './errors.js';
import type { TaskDefinition } from './task.js';

/** A task definition of any argument and result types, as a worker sees it. */
export type AnyTaskDefinition = TaskDefinition<never[], unknown>;

/**
 * The tasks a server's workers can run, by name. The Server fills it with `register()`; each Worker
 * looks tasks up in it per delivery, so a task registered after `start()` runs from then on.
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, AnyTaskDefinition>();

  /**
   * Adds tasks by name; registering the same definition twice is a no-op.
   * @throws MachineryError `ERR_TASK_ALREADY_REGISTERED` when another task already has the name.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any task signature is accepted here; types stay on the definition.
  add(...tasks: TaskDefinition<any, any>[]): void {
    for (const task of tasks) {
      const existing = this.tasks.get(task.name);
      if (existing && existing !== task) {
        throw new MachineryError(
          'ERR_TASK_ALREADY_REGISTERED',
          `A different task is already registered as "${task.name}". Give one of them another name.`,
        );
      }
      this.tasks.set(task.name, task as AnyTaskDefinition);
    }
  }

  /** The task registered under `name`, if any. */
  get(name: string): AnyTaskDefinition | undefined {
    return this.tasks.get(name);
  }

  /** True when a task is registered under `name`. */
  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Names of all registered tasks, in registration order. */
  names(): string[] {
    return [...this.tasks.keys()];
  }
}
