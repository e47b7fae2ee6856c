/** Removes a listener; resolves once it no longer receives anything. */
export type Unsubscribe = () => Promise<void>;

/** One revoked UUID (a task, or `schedule:<name>` for a periodic schedule). */
export interface Revocation {
  readonly uuid: string;
  /** Why it was revoked; stored in the task's `FAILURE` error. */
  readonly reason: string;
  /** When it was revoked (ms since the epoch). */
  readonly revokedAt: number;
}

/** Options for {@link RevocationStore.revoke}. */
export interface RevokeOptions {
  /** How long the revocation is remembered, in ms (default 3 600 000: Go's default result lifetime). */
  ttlMs?: number;
  /** Why (default `'revoked'`). */
  reason?: string;
}

/**
 * Revoked UUIDs, shared by every process that uses the same store. A revocation is kept for its TTL,
 * so a worker that starts later still refuses the task, and announced to every `onRevoke` listener of
 * every process, so running tasks are aborted at once.
 */
export interface RevocationStore {
  /** Records `uuids` as revoked for `ttlMs`, then announces them to every listener. */
  revoke(uuids: readonly string[], options?: RevokeOptions): Promise<void>;
  /** The revocation of each UUID, in order (`undefined`: not revoked, or expired). One round trip. */
  revoked(uuids: readonly string[]): Promise<(Revocation | undefined)[]>;
  /**
   * Calls `listener` with every revocation announced from now on, by any process. Resolves once the
   * listener is live.
   */
  onRevoke(listener: (revocations: readonly Revocation[]) => void): Promise<Unsubscribe>;
}
