import type { Series } from './event-history.js';
import { escapeHtml } from './html.js';

const WIDTH = 360;
const HEIGHT = 110;
const PAD_TOP = 18;
const PAD_BOTTOM = 14;

interface Line {
  readonly label: string;
  readonly cls: string;
  readonly values: readonly (number | null)[];
}

/**
 * The three charts of the overview as inline SVG (no script, so the page's CSP holds): tasks finished
 * per bar, failures and retries per bar, and average run time and send → start wait per bar.
 */
export function renderCharts(series: Series): string {
  const b = series.buckets;
  const per = `per ${Math.round(series.bucketMs / 1000)} s`;
  return [
    chart(`Throughput (succeeded ${per})`, [
      { label: 'succeeded', cls: 'ok', values: b.map((x) => x.succeeded) },
    ]),
    chart(`Failures (${per})`, [
      { label: 'failed', cls: 'bad', values: b.map((x) => x.failed) },
      { label: 'retried', cls: 'warn', values: b.map((x) => x.retried) },
    ]),
    chart('Latency (ms, average)', [
      { label: 'run', cls: 'ok', values: b.map((x) => (x.runCount ? x.runMsSum / x.runCount : null)) },
      { label: 'wait', cls: 'info', values: b.map((x) => (x.waitCount ? x.waitMsSum / x.waitCount : null)) },
    ]),
  ].join('');
}

function chart(title: string, lines: readonly Line[]): string {
  const n = Math.max(1, ...lines.map((l) => l.values.length));
  const max = Math.max(1, ...lines.flatMap((l) => l.values.map((v) => v ?? 0)));
  const x = (i: number) => (n === 1 ? WIDTH : (i / (n - 1)) * WIDTH);
  const y = (v: number) => PAD_TOP + (1 - v / max) * (HEIGHT - PAD_TOP - PAD_BOTTOM);
  const paths = lines.map((l) => {
    let d = '';
    let dots = '';
    l.values.forEach((v, i) => {
      if (v === null) return;
      const before = i > 0 ? l.values[i - 1] : null;
      const after = i + 1 < l.values.length ? l.values[i + 1] : null;
      d += `${d === '' || before === null ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      // A value with no neighbour draws no segment: show it as a dot.
      if ((before ?? null) === null && (after ?? null) === null) {
        dots += `<circle class="dot ${l.cls}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5"/>`;
      }
    });
    return d === '' ? '' : `<path class="line ${l.cls}" d="${d}"/>${dots}`;
  });
  const totals = lines.map((l) => {
    const vs = l.values.filter((v): v is number => v !== null);
    const last = vs.length === 0 ? '—' : formatNumber(vs[vs.length - 1] as number);
    return `<tspan class="${l.cls}">${escapeHtml(l.label)} ${last}</tspan>`;
  });
  return (
    `<figure class="chart"><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">` +
    `<line class="axis" x1="0" y1="${HEIGHT - PAD_BOTTOM}" x2="${WIDTH}" y2="${HEIGHT - PAD_BOTTOM}"/>` +
    `<text class="max" x="2" y="12">max ${formatNumber(max)}</text>` +
    `<text class="legend" x="${WIDTH - 2}" y="12" text-anchor="end">${totals.join(' ')}</text>` +
    `${paths.join('')}</svg></figure>`
  );
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
