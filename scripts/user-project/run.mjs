// Run in the user project of check-tarballs.mjs with the installed tarballs: loads every package,
// then sends one task through the memory adapters and waits for its result.
import { readFileSync } from 'node:fs';
import { defineTask, MemoryBackend, MemoryBroker, Server } from '@machinery/core';

const { dependencies } = JSON.parse(readFileSync(new URL('package.json', import.meta.url), 'utf8'));
for (const name of Object.keys(dependencies)) {
  const manifest = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url)));
  if (manifest.exports?.['.']) await import(name);
}

const add = defineTask('add', (a, b) => a + b);
const server = new Server({ broker: new MemoryBroker(), backend: new MemoryBackend() });
server.register(add);
await server.worker({ concurrency: 1, handleSignals: false }).start();
try {
  const sum = await (await server.send(add.signature(2, 3))).get({ timeoutMs: 10_000 });
  if (sum !== 5) throw new Error(`add(2, 3) returned ${sum}, not 5`);
  console.log(`loaded ${Object.keys(dependencies).length} packages; add(2, 3) = 5 on the memory adapters`);
} finally {
  await server.close();
}
