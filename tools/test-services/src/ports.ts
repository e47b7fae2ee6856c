import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A loopback port nobody listens on right now: `port` 0 (the default) asks the system for any free
 * one; another `port` is tried as given and comes back as 0 when it is taken.
 */
export async function freePort(port = 0): Promise<number> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await Promise.race([once(server, 'listening'), once(server, 'error')]);
  const address = server.address();
  const got = typeof address === 'object' && address ? address.port : 0;
  if (got !== 0) {
    server.close();
    await once(server, 'close');
  }
  return got;
}
