import { deferred, eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import { LogCursor, type LogRow } from '../src/log-cursor.js';

/** An append log in memory whose reads can be held open by the test. */
function log() {
  const rows: LogRow<string>[] = [];
  let hold: Promise<void> | undefined;
  let failures = 0;
  const reads: number[] = [];
  return {
    rows,
    reads,
    append: (...items: string[]) => {
      for (const item of items) rows.push({ position: rows.length + 1, item });
      return rows.length;
    },
    holdReads: (until: Promise<void>) => {
      hold = until;
    },
    failNext: (n: number) => {
      failures = n;
    },
    /** Takes what it returns at once, as a query's snapshot, then waits while reads are held. */
    read: async (after: number, limit: number) => {
      reads.push(after);
      const found = rows.filter((r) => r.position > after).slice(0, limit);
      await hold;
      if (failures > 0) {
        failures--;
        throw new Error('read failed');
      }
      return found;
    },
  };
}

it('reads every page after the position it starts from, in order', async () => {
  const l = log();
  l.append('old');
  const seen: string[][] = [];
  const cursor = new LogCursor({
    after: 1,
    pageSize: 2,
    read: l.read,
    deliver: (p) => seen.push(p),
    onError: () => {},
  });
  cursor.notify(l.append('a', 'b', 'c', 'd', 'e'));
  await eventually(() => expect(seen).toEqual([['a', 'b'], ['c', 'd'], ['e']]));
  await cursor.stop();
});

it('reads again when told of rows while a read is under way: none is left unread', async () => {
  const l = log();
  const seen: string[] = [];
  const cursor = new LogCursor({
    after: 0,
    pageSize: 10,
    read: l.read,
    deliver: (p) => seen.push(...p),
    onError: () => {},
  });
  const release = deferred();
  l.holdReads(release.promise);
  cursor.notify(l.append('a'));
  // Written after the read under way took its snapshot.
  cursor.notify(l.append('b'));
  expect(l.reads).toEqual([0]);
  release.resolve();
  await eventually(() => expect(seen).toEqual(['a', 'b']));
  expect(l.reads).toEqual([0, 1]);
  await cursor.stop();
});

it('ignores a notice of rows it has already read', async () => {
  const l = log();
  const seen: string[] = [];
  const cursor = new LogCursor({
    after: 0,
    pageSize: 10,
    read: l.read,
    deliver: (p) => seen.push(...p),
    onError: () => {},
  });
  const upTo = l.append('a');
  cursor.notify(upTo);
  await eventually(() => expect(seen).toEqual(['a']));
  // A read starts synchronously: had this notice started one, it would show at once.
  cursor.notify(upTo);
  expect(l.reads).toEqual([0]);
  await cursor.stop();
});

it('tries a failed read again and skips nothing', async () => {
  const l = log();
  const seen: string[] = [];
  const errors: unknown[] = [];
  const cursor = new LogCursor({
    after: 0,
    pageSize: 10,
    retryMs: 20,
    read: l.read,
    deliver: (p) => seen.push(...p),
    onError: (err) => errors.push(err),
  });
  l.failNext(2);
  cursor.notify(l.append('a', 'b'));
  await eventually(() => expect(seen).toEqual(['a', 'b']));
  expect(errors).toHaveLength(2);
  await cursor.stop();
});

it('stop() waits for the read under way and delivers nothing after it', async () => {
  const l = log();
  const seen: string[] = [];
  const cursor = new LogCursor({
    after: 0,
    pageSize: 10,
    read: l.read,
    deliver: (p) => seen.push(...p),
    onError: () => {},
  });
  const release = deferred();
  l.holdReads(release.promise);
  cursor.notify(l.append('a'));
  await eventually(() => expect(l.reads).toHaveLength(1));
  const stopped = cursor.stop();
  release.resolve();
  await stopped;
  cursor.notify(l.append('b'));
  expect(seen).toEqual([]);
  expect(l.reads).toHaveLength(1);
});
