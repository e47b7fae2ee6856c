import type { AnyTaskDefinition } from '../task-registry.js';

function isTaskDefinition(v: unknown): v is AnyTaskDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<AnyTaskDefinition>;
  return typeof t.name === 'string' && typeof t.fn === 'function' && typeof t.signature === 'function';
}

/**
 * The task definitions a thread pool's module exports, by name: every export made by `defineTask`,
 * and the definitions in an exported array (e.g. `export const tasks = [a, b]`).
 */
export function findTasks(module: Record<string, unknown>): Map<string, AnyTaskDefinition> {
  const tasks = new Map<string, AnyTaskDefinition>();
  for (const value of Object.values(module)) {
    const candidates = Array.isArray(value) ? value : [value];
    for (const c of candidates) if (isTaskDefinition(c)) tasks.set(c.name, c);
  }
  return tasks;
}
