import { renderCharts } from './charts.js';
import type { Series } from './event-history.js';
import { Html, html } from './html.js';
import { showValue, toJson } from './json-text.js';
import type {
  Count,
  DeadLetterView,
  GroupSummary,
  GroupView,
  OverviewView,
  QueueView,
  TaskView,
  WorkerView,
} from './queries.js';
import type { EventView } from './redaction.js';

/** What every page needs besides its data. */
export interface PageContext {
  readonly title: string;
  readonly basePath: string;
  readonly csrf: string;
  readonly actions: boolean;
  /** The services' names, credentials masked. */
  readonly urls: readonly [string, string][];
}

/** The page shell: header, navigation, lookup form; the script and styles are files (CSP: no inline). */
export function layout(
  ctx: PageContext,
  page: string,
  heading: string,
  body: Html,
  extra: Record<string, string> = {},
): string {
  const b = ctx.basePath;
  const nav: [string, string, string][] = [
    ['overview', `${b}/`, 'Queues'],
    ['dead-letters', `${b}/dead-letters`, 'Dead letters'],
    ['groups', `${b}/groups`, 'Groups'],
    ['workers', `${b}/workers`, 'Workers'],
  ];
  const data = Object.entries(extra).map(([k, v]) => html` data-${k}="${v}"`);
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading} · ${ctx.title}</title>
<meta name="machinery" data-base="${b}" data-csrf="${ctx.csrf}" data-page="${page}" data-actions="${String(ctx.actions)}"${data}>
<link rel="stylesheet" href="${b}/assets/app.css">
<script src="${b}/assets/app.js" defer></script>
</head><body data-live="connecting">
<header><a class="brand" href="${b}/">${ctx.title}</a>
<nav>${nav.map(([id, href, label]) => html`<a href="${href}"${page === id ? new Html(' aria-current="page"') : ''}>${label}</a>`)}</nav>
<form class="lookup" method="get" action="${b}/tasks"><input name="uuid" placeholder="task or group UUID" aria-label="task or group UUID" required><button>Open</button></form>
<span class="live" id="live" title="live updates">●</span>
</header>
<p class="services">${ctx.urls.map(([k, v]) => html`<span>${k} <code>${v}</code></span>`)}${ctx.actions ? '' : html`<span class="readonly">read-only</span>`}</p>
<div id="flash" role="status" hidden></div>
<main><h1>${heading}</h1>${body}</main></body></html>`}`;
}

/** A capped count: `3`, `1000+`, or `n/a` when the broker cannot list it. */
export function showCount(c: Count | null): string {
  if (c === null) return 'n/a';
  return c.complete ? String(c.count) : `${c.count}+`;
}

/** Arguments or results for a person: wire values as their JSON values, anything else as JSON. */
export function showWire(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (
    Array.isArray(v) &&
    v.every((x) => typeof x === 'object' && x !== null && 'type' in x && 'value' in x)
  ) {
    return v.map((x: { value: unknown }) => toJson(x.value)).join(', ');
  }
  return showValue(v);
}

function button(
  ctx: PageContext,
  action: string,
  url: string,
  label: string,
  confirm?: string,
  hidden = false,
): Html | string {
  if (!ctx.actions) return '';
  return html`<button type="button" class="action" data-action="${action}" data-url="${ctx.basePath}${url}"${confirm ? html` data-confirm="${confirm}"` : ''}${hidden ? new Html(' hidden') : ''}>${label}</button>`;
}

function queueRow(ctx: PageContext, q: QueueView, control: boolean): Html {
  const enc = encodeURIComponent(q.queue);
  return html`<tr data-queue="${q.queue}"><th scope="row">${q.queue}</th>
<td class="num" data-q="${q.queue}" data-col="pending">${showCount(q.pending)}</td>
<td class="num" data-q="${q.queue}" data-col="delayed">${showCount(q.delayed)}</td>
<td class="num" data-q="${q.queue}" data-col="deadLetters">${showCount(q.deadLetters)}</td>
<td data-q="${q.queue}" data-col="paused">${q.paused === null ? '—' : q.paused ? 'paused' : 'running'}</td>
<td class="num" data-q="${q.queue}" data-col="workers">${q.workers === null ? '—' : String(q.workers)}</td>
<td>${control ? pauseButtons(ctx, enc, q.paused) : ''}</td></tr>`;
}

/**
 * Pause for a running queue, Resume for a paused one; both stay in the page (one hidden) so the
 * script can swap them when a live update or the other button changes the state. Both show when the
 * state could not be read.
 */
function pauseButtons(ctx: PageContext, enc: string, paused: boolean | null): (Html | string)[] {
  return [
    button(ctx, 'pause', `/api/queues/${enc}/pause`, 'Pause', undefined, paused === true),
    button(ctx, 'resume', `/api/queues/${enc}/resume`, 'Resume', undefined, paused === false),
  ];
}

/** The overview: queues with counts and pause buttons, charts, recent events. */
export function overviewPage(
  ctx: PageContext,
  o: OverviewView,
  series: Series,
  events: readonly EventView[],
): string {
  const notes = Object.entries(o.unavailable).map(([k, why]) => html`<li>${k}: ${why}</li>`);
  return layout(
    ctx,
    'overview',
    'Queues',
    html`<p>Live workers: <strong id="live-workers">${o.liveWorkers === null ? '— (no control plane)' : String(o.liveWorkers)}</strong></p>
<table id="queues"><thead><tr><th>Queue</th><th>Pending</th><th>Delayed</th><th>Dead letters</th><th>State</th><th>Workers</th><th></th></tr></thead>
<tbody>${o.queues.map((q) => queueRow(ctx, q, o.can.control))}</tbody></table>
${notes.length > 0 ? html`<ul class="notes">${notes}</ul>` : ''}
<p class="notes">Counts stop at ${String(o.limit)} (shown as ${String(o.limit)}+).</p>
<h2>Over time</h2><div id="charts" class="charts">${new Html(renderCharts(series))}</div>
<p class="notes">From the task events this dashboard has received since it started.</p>
<h2>Recent events</h2>${eventList(ctx, events)}`,
  );
}

function eventList(ctx: PageContext, events: readonly EventView[]): Html {
  return html`<table id="events" class="events"><thead><tr><th>Time</th><th>Event</th><th>Task</th><th>Queue</th><th>Detail</th></tr></thead><tbody>${events.map(
    (e) => eventRow(ctx, e),
  )}</tbody></table>`;
}

/** One event as a table row (the client builds the same for live events). */
export function eventRow(ctx: PageContext, e: EventView): Html {
  const detail = [
    e.durationMs !== null ? `${ms(e.durationMs)} ms` : '',
    e.delayMs !== null ? `again in ${e.delayMs} ms` : '',
    e.error !== null ? showValue(e.error, 300) : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return html`<tr class="ev-${e.type}"><td>${e.at.slice(11, 23)}</td><td>${e.type}</td><td><a href="${ctx.basePath}/tasks/${encodeURIComponent(e.taskUUID)}">${e.taskName || e.taskUUID}</a></td><td>${e.queue}</td><td>${detail}</td></tr>`;
}

/** A task: state, arguments, results, error, progress, revocation, timeline, revoke button. */
export function taskPage(ctx: PageContext, t: TaskView): string {
  const final = t.state === 'SUCCESS' || t.state === 'FAILURE';
  const rows: [string, string, string | Html][] = [
    ['uuid', 'uuid', t.uuid],
    ['name', 'name', t.name || '(not stored)'],
    ['state', 'state', t.state],
    ['created', 'createdAt', t.createdAt ?? '—'],
    ['queue', 'queue', t.queue ?? '—'],
    [
      'args',
      'args',
      t.args !== null
        ? showWire(t.args) || '(none)'
        : '(not stored with the state; shown only while the task waits in a queue or for its ETA)',
    ],
    ['results', 'results', t.results === null ? '—' : showWire(t.results) || '(none)'],
    ['error', 'error', t.error === null ? '—' : showValue(t.error)],
    [
      'progress',
      'progress',
      !t.control
        ? '(unknown: no control plane)'
        : t.progress === null
          ? '(none reported)'
          : `${showValue(t.progress.data, 500)} (${t.progress.at})`,
    ],
    [
      'revoked',
      'revoked',
      !t.control
        ? '(unknown: no control plane)'
        : t.revoked === null
          ? 'no'
          : `yes, ${t.revoked.revokedAt}: ${t.revoked.reason}`,
    ],
  ];
  if (t.groupUUID)
    rows.push(['group', 'group', html`<a href="${ctx.basePath}/groups/${t.groupUUID}">${t.groupUUID}</a>`]);
  return layout(
    ctx,
    'task',
    `Task ${t.name}`,
    html`<dl class="fields">${rows.map(([label, field, value]) => html`<dt>${label}</dt><dd data-field="${field}">${value}</dd>`)}</dl>
<p>${t.control && !final ? button(ctx, 'revoke', `/api/tasks/${encodeURIComponent(t.uuid)}/revoke`, 'Revoke', 'Revoke this task?') : ''}</p>
<h2>Timeline</h2>
<table id="timeline" class="events"><thead><tr><th>Time</th><th>Event</th><th>Worker</th><th>Detail</th></tr></thead><tbody>${t.timeline.map(
      (e) => timelineRow(e),
    )}</tbody></table>
<p class="notes">Events received by this dashboard since it started; earlier ones are not kept by the event stream.</p>`,
    { uuid: t.uuid, state: t.state },
  );
}

/** One row of a task's timeline. */
export function timelineRow(e: EventView): Html {
  const detail = [
    e.durationMs !== null ? `${ms(e.durationMs)} ms` : '',
    e.delayMs !== null ? `again in ${e.delayMs} ms` : '',
    e.error !== null ? showValue(e.error, 500) : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return html`<tr class="ev-${e.type}"><td>${e.at}</td><td>${e.type}</td><td>${e.workerId ?? ''}</td><td>${detail}</td></tr>`;
}

/** A group or chord with its members. */
export function groupPage(ctx: PageContext, g: GroupView): string {
  const counts = Object.entries(g.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return layout(
    ctx,
    'group',
    `Group ${g.uuid}`,
    html`<dl class="fields"><dt>uuid</dt><dd>${g.uuid}</dd><dt>created</dt><dd>${g.createdAt ?? '—'}</dd>
<dt>members</dt><dd data-field="counts">${String(g.members.length)} (${counts})</dd>
<dt>chord</dt><dd>${g.chordTriggered ? 'callback triggered' : 'callback not triggered (or not a chord)'}</dd></dl>
<table id="members"><thead><tr><th>Task</th><th>Name</th><th>State</th><th>Result / error</th></tr></thead><tbody>${g.members.map(
      (m) =>
        html`<tr><td><a href="${ctx.basePath}/tasks/${encodeURIComponent(m.uuid)}">${m.uuid}</a></td><td>${m.name ?? ''}</td><td>${m.state}${m.revoked ? ' (revoked)' : ''}</td><td>${m.error !== null ? showValue(m.error, 300) : showWire(m.results)}</td></tr>`,
    )}</tbody></table>
<p>${ctx.actions ? button(ctx, 'revoke', `/api/tasks/${encodeURIComponent(g.uuid)}/revoke`, 'Revoke every member', 'Revoke every member of this group?') : ''}</p>`,
    { uuid: g.uuid },
  );
}

/** Groups and chords this dashboard has seen. */
export function groupsPage(ctx: PageContext, groups: readonly GroupSummary[]): string {
  return layout(
    ctx,
    'groups',
    'Groups and chords',
    html`<p class="notes">The backend cannot list groups: these are the groups seen in waiting tasks, dead letters and lookups. Open any other by UUID above.</p>
<table id="groups"><thead><tr><th>Group</th><th>Members</th><th>States</th><th>Chord</th></tr></thead><tbody>${groups.map(
      (g) =>
        html`<tr><td><a href="${ctx.basePath}/groups/${encodeURIComponent(g.uuid)}">${g.uuid}</a></td><td class="num">${String(g.members)}</td><td>${Object.entries(
          g.counts,
        )
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}</td><td>${g.chordTriggered ? 'triggered' : '—'}</td></tr>`,
    )}</tbody></table>`,
  );
}

/** Dead letters with requeue and per-queue purge buttons. */
export function deadLettersPage(
  ctx: PageContext,
  letters: readonly DeadLetterView[] | null,
  canPurge: boolean,
): string {
  if (letters === null) {
    return layout(ctx, 'dead-letters', 'Dead letters', html`<p>This broker cannot list dead letters.</p>`);
  }
  const queues = [...new Set(letters.map((l) => l.queue))];
  return layout(
    ctx,
    'dead-letters',
    'Dead letters',
    html`<p><span id="dead-count">${String(letters.length)}</span> dead letters. ${letters.length > 0 ? button(ctx, 'requeue', '/api/dead-letters/requeue', 'Requeue all') : ''}
${canPurge ? queues.map((q) => button(ctx, 'purge', `/api/queues/${encodeURIComponent(q)}/purge-dead-letters`, `Purge ${q}`, `Delete every dead letter of ${q}?`)) : ''}</p>
<table id="dead-letters"><thead><tr><th>When</th><th>Queue</th><th>Task</th><th>Args</th><th>Retries</th><th>Reason</th></tr></thead><tbody>${letters.map(
      (l) =>
        html`<tr><td>${l.at ?? '—'}</td><td>${l.queue}</td><td>${
          l.task
            ? html`<a href="${ctx.basePath}/tasks/${encodeURIComponent(l.task.uuid)}">${l.task.name}</a>`
            : html`(not a Machinery message: ${l.decodeError ?? ''})`
        }</td><td>${l.task ? showWire(l.task.args) : ''}</td><td class="num">${l.task ? String(l.task.retryCount) : ''}</td><td>${showValue(l.reason, 300)}</td></tr>`,
    )}</tbody></table>`,
  );
}

/** Live workers. */
export function workersPage(ctx: PageContext, workers: readonly WorkerView[] | null): string {
  if (workers === null) {
    return layout(
      ctx,
      'workers',
      'Workers',
      html`<p>No control plane: workers are not registered anywhere this dashboard can read.</p>`,
    );
  }
  return layout(
    ctx,
    'workers',
    'Workers',
    html`<table id="workers"><thead><tr><th>Worker</th><th>Queue</th><th>State</th><th>Concurrency</th><th>Running</th><th>Done</th><th>Failed</th><th>Heartbeat</th><th>Version</th></tr></thead><tbody>${workers.map(
      (w) =>
        html`<tr><td>${w.id}</td><td>${w.queue}</td><td>${w.paused ? 'paused' : 'running'}</td><td class="num">${String(w.concurrency)}</td><td class="num">${String(w.running.length)}</td><td class="num">${String(w.processed)}</td><td class="num">${String(w.failed)}</td><td>${(w.heartbeatAgeMs / 1000).toFixed(1)} s ago</td><td>${w.version}</td></tr>`,
    )}</tbody></table>`,
  );
}

function ms(v: number): string {
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

/** A page that says what went wrong (404, 401, 403, a service down). */
export function messagePage(ctx: PageContext, heading: string, message: string): string {
  return layout(ctx, 'message', heading, html`<p class="error">${message}</p>`);
}
