import type { PublishMiddleware } from '../middleware.js';
import { uniqueClaimOf } from './unique-claim.js';
import type { UniqueStore } from './unique-tasks.js';

/**
 * The publish middleware of unique tasks (outermost, so that a duplicate meets no other middleware): a
 * signature marked unique claims its task name and key in `store`; when an earlier send holds the claim
 * the signature is not published and its `uuid` becomes the earlier task's, so the `AsyncResult` the
 * caller gets follows that task. A send that fails after claiming gives the claim back.
 */
export function uniquePublishMiddleware(store: UniqueStore): PublishMiddleware {
  return async (context, next) => {
    const signature = context.signature;
    const claim = uniqueClaimOf(signature);
    if (claim === undefined) return next();
    const key = `${signature.name}:${claim.key}`;
    const uuid = signature.uuid;
    const owner = await store.claim(key, uuid, claim.forMs);
    if (owner !== uuid) {
      signature.uuid = owner;
      return;
    }
    try {
      await next();
    } catch (err) {
      await store.release(key, uuid).catch(() => {
        // The claim lapses after forMs; the send's own error is what the caller needs.
      });
      throw err;
    }
  };
}
