import type { Backend } from '../backend.js';
import { signature } from '../signature.js';
import { TaskStatus } from '../state.js';
import type { ControlPlane } from './control-plane.js';
import type { RevokeOptions } from './revocations.js';

/** What {@link revokeTasks} works with. */
export interface RevokeTarget {
  control: ControlPlane;
  /** Where group members are read and waiting tasks marked `FAILURE`; without one only the UUIDs given are revoked. */
  backend?: Backend | undefined;
}

/**
 * Revokes tasks by UUID, from any process. A group or chord UUID (its GroupMeta is read from the
 * backend) revokes every member; revoking a chain's link stops the chain there. Tasks still waiting
 * (`PENDING`, or `RETRY` until their next attempt) are marked `FAILURE` at once, so their results
 * answer without waiting for a worker; a worker that receives a revoked task fails it without running
 * it, and a running one has its `AbortSignal` aborted. Resolves with every UUID revoked (members
 * included).
 */
export async function revokeTasks(
  target: RevokeTarget,
  uuids: readonly string[],
  options: RevokeOptions = {},
): Promise<string[]> {
  const backend = target.backend;
  const all = new Set(uuids);
  // A group's key holds its GroupMeta, not a task state: it is not marked.
  const groups = new Set<string>();
  if (backend !== undefined) {
    const metas = await Promise.all(uuids.map((uuid) => backend.getGroupMeta(uuid).catch(() => undefined)));
    metas.forEach((meta, i) => {
      // Where tasks and groups share one keyspace (Redis, Memcache), a task's state also decodes as
      // group metadata, without a GroupUUID: only metadata naming its own group is a group.
      if (meta === undefined || meta.groupUUID !== uuids[i]) return;
      groups.add(uuids[i] as string);
      for (const member of meta.taskUUIDs) all.add(member);
    });
  }
  const revoked = [...all];
  await target.control.revocations.revoke(revoked, options);
  if (backend !== undefined) {
    const reason = options.reason ?? 'revoked';
    await Promise.all(
      revoked.map(async (uuid) => {
        if (groups.has(uuid)) return;
        const state = await backend.getState(uuid);
        if (state === undefined || (state.state !== TaskStatus.PENDING && state.state !== TaskStatus.RETRY))
          return;
        // A worker that picks it up later stores the same outcome again and sends its follow-ups.
        const waiting = signature(state.taskName, [], { uuid });
        await backend.setStateFailure(waiting, `Task "${state.taskName}" (${uuid}) was revoked: ${reason}`);
      }),
    );
  }
  return revoked;
}
