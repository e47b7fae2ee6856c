// The mutants run.mjs knows, with the bug each one has (implemented in mutants.mjs). Kept apart from
// mutants.mjs, which imports @machinery/core and so loads only under vitest's alias.

/** Mutant name → the at-least-once bug it has. */
export const catalog = {
  'a-no-lease-renewal':
    'never renews a lease while its task runs: a second consumer gets a task the first still runs',
  'b-racy-claim':
    'claims by reading the head, then removing it: two consumers polling at once take the same message',
  'c-ack-ignores-token':
    'acknowledges by message, not by lease token: a stale delivery removes the task another consumer holds',
  'd-settles-twice': 'checks the lease, then settles after a round trip: racing ack/nack calls all succeed',
  'e-close-leaves-consumers': 'close() leaves its consumers polling: a closed broker keeps taking tasks',
  'f-pending-lists-leased': 'pendingTasks lists leased (in-flight) messages as well as waiting ones',
  'g-delivers-after-stop': 'hands over deliveries it fetched before stop() after stop() resolved',
  'h-purge-takes-held': 'purge() removes the tasks workers hold along with the waiting ones: they are lost',
};
