// Type-checked in the user project of check-tarballs.mjs (strict, NodeNext, no skipLibCheck), next to
// imports.ts, which that script writes with one import per public package.
import { defineTask, MemoryBackend, MemoryBroker, Server } from '@machinery/core';

const add = defineTask('add', (a: number, b: number) => a + b);
const server = new Server({ broker: new MemoryBroker(), backend: new MemoryBackend() });
server.register(add);

// @ts-expect-error a typed task's signature takes its arguments' types: a string is not a number
add.signature('1', 2);

/** Typed from the task: `get()` resolves to a number. */
export async function sum(): Promise<number> {
  return (await server.send(add.signature(1, 2))).get();
}
