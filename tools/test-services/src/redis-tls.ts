import { TLSSocket } from 'node:tls';
import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';

/**
 * Asserts that `client` talks over TLS to a server whose certificate it verified (for
 * `IP:127.0.0.1`) against the CA `ca`, and that nothing in its options turned verification off.
 */
export function expectVerifiedTls(client: Redis | Cluster, ca: string): void {
  const stream = (client as unknown as { stream?: unknown }).stream;
  expect(stream).toBeInstanceOf(TLSSocket);
  const socket = stream as TLSSocket;
  expect(socket.authorized).toBe(true);
  expect(socket.getPeerCertificate().subjectaltname).toContain('IP Address:127.0.0.1');
  // Verification was left on: nothing in the options turned it off.
  expect(client.options).toMatchObject({ tls: { ca } });
  expect((client.options as { tls?: { rejectUnauthorized?: boolean } }).tls?.rejectUnauthorized).not.toBe(
    false,
  );
}
