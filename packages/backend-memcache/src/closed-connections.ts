import type { Socket } from 'node:net';
import type memjs from 'memjs';

/** The parts of memjs 1.3's (untyped) `Server` this module relies on. */
interface MemjsServer {
  _socket?: Socket;
  errorCallbacks?: Record<string, unknown>;
  sock?: (sasl: boolean, go: (socket: Socket) => void) => void;
  error?: (err: Error) => void;
}

/**
 * Makes memjs fail the requests a connection still owes when the server closes it cleanly (FIN): memjs
 * only fails them on a socket error or a timeout, and stops its timeout on `close`, so such a request
 * waits forever — a worker storing a result through a memcached restart would hold its task for good.
 * Failing them lets memjs retry on a new connection (`retries`), then report the error.
 *
 * Relies on memjs 1.3 internals; where they are missing it changes nothing.
 */
export function failRequestsOnClose(client: memjs.Client): void {
  for (const server of client.servers as unknown as MemjsServer[]) {
    const open = server.sock;
    const fail = server.error;
    if (typeof open !== 'function' || typeof fail !== 'function') continue;
    const watched = new WeakSet<Socket>();
    server.sock = (sasl, go) => {
      open.call(server, sasl, go);
      const socket = server._socket;
      if (!socket || watched.has(socket)) return;
      watched.add(socket);
      socket.once('close', () => {
        // After an error memjs has already failed them (and emptied the table): nothing to do then.
        if (Object.keys(server.errorCallbacks ?? {}).length === 0) return;
        fail.call(server, new Error('connection closed by the server before it answered'));
      });
    };
  }
}
