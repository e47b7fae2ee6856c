import { decodeSignature, encodeSignature, signature } from '@machinery/core';
import { fmt, nowMs, ratio, table } from './stats.js';

// The codec runs on every task twice (producer encode, worker decode). Compared with the floor a
// generic JSON round trip of the same data costs: JSON.stringify / JSON.parse of a plain object.

function opsPerSecond(fn: () => void, ms = 700): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const t0 = nowMs();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    elapsed = nowMs() - t0;
  }
  return (n / elapsed) * 1000;
}

/** Runs the codec micro-benchmark and returns its Markdown report. */
export function codecBench(): string {
  const sig = signature('send_email', ['user@example.com', 42, 3.5, true, ['a', 'b']], {
    headers: {},
    routingKey: 'machinery_tasks',
  });
  const body = encodeSignature(sig);
  const plain = JSON.parse(body) as unknown;
  const rows = [
    ['encodeSignature', opsPerSecond(() => encodeSignature(sig)), opsPerSecond(() => JSON.stringify(plain))],
    ['decodeSignature', opsPerSecond(() => decodeSignature(body)), opsPerSecond(() => JSON.parse(body))],
  ] as const;
  return `### Codec (${body.length}-byte message with 5 args, ops/s)\n\n${table(
    ['operation', 'codec', 'JSON baseline', 'codec / baseline'],
    rows.map(([name, ours, base]) => [name, fmt(ours), fmt(base), ratio(ours, base)]),
  )}`;
}
