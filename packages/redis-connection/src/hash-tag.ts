/**
 * True when `prefix` contains a Redis Cluster hash tag (`{…}` with something between the braces):
 * every key under such a prefix hashes to one slot, so multi-key scripts and `MGET` work on a Cluster.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}
