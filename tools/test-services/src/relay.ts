import type { Socket } from 'node:net';

/**
 * Pipes `client` and `upstream` into each other and keeps both in `sockets` while they are open;
 * when either fails or closes, both are destroyed and forgotten (a proxy never holds half a
 * connection).
 */
export function relay(client: Socket, upstream: Socket, sockets: Set<Socket>): void {
  sockets.add(client);
  sockets.add(upstream);
  const drop = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  for (const s of [client, upstream]) {
    s.on('error', drop);
    s.on('close', drop);
  }
  client.pipe(upstream);
  upstream.pipe(client);
}
