/**
 * The browser script of every page, served as `assets/app.js` (a file, so the CSP needs no inline
 * script). Plain ES2020, no framework: it follows the live stream (server-sent events) to update counts,
 * charts, the event list and the task page, and sends actions with the page's CSRF token. Kept as a
 * string, as the Lua scripts of the Redis packages are, so the build has no copy step.
 */
export const CLIENT_SCRIPT = `'use strict';
(function () {
  var meta = document.querySelector('meta[name="machinery"]');
  if (!meta) return;
  var base = meta.dataset.base || '';
  var csrf = meta.dataset.csrf || '';
  var page = meta.dataset.page || '';
  var pageUuid = meta.dataset.uuid || '';
  var actions = meta.dataset.actions === 'true';
  var body = document.body;

  function json(v) {
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  }
  function show(v) {
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? v : json(v);
  }
  function showWire(v) {
    if (v === null || v === undefined) return '';
    if (Array.isArray(v) && v.every(function (x) { return x && typeof x === 'object' && 'type' in x && 'value' in x; })) {
      return v.map(function (x) { return json(x.value); }).join(', ');
    }
    return show(v);
  }
  function countText(c) {
    if (c === null || c === undefined) return 'n/a';
    return c.complete ? String(c.count) : c.count + '+';
  }
  function cell(tag, text, cls) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }
  function flash(text, bad) {
    var el = document.getElementById('flash');
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    el.className = bad ? 'bad' : 'ok';
  }
  function detail(e, max) {
    var parts = [];
    if (e.durationMs !== null) parts.push((e.durationMs >= 100 ? String(Math.round(e.durationMs)) : e.durationMs.toFixed(1)) + ' ms');
    if (e.delayMs !== null) parts.push('again in ' + e.delayMs + ' ms');
    if (e.error !== null) parts.push(show(e.error).slice(0, max));
    return parts.join(' · ');
  }

  // The row's Pause button while the queue runs, Resume while it is paused, both when unknown.
  function showPaused(queue, paused) {
    document.querySelectorAll('#queues tr[data-queue]').forEach(function (tr) {
      if (tr.dataset.queue !== queue) return;
      var state = tr.querySelector('td[data-col="paused"]');
      if (state) state.textContent = paused === null ? '—' : paused ? 'paused' : 'running';
      var pause = tr.querySelector('button[data-action="pause"]');
      var resume = tr.querySelector('button[data-action="resume"]');
      if (pause) pause.hidden = paused === true;
      if (resume) resume.hidden = paused === false;
    });
  }

  // A queue that first shows up in a live update gets the Pause and Resume buttons a page load
  // would have rendered (showPaused then hides the one that does not fit).
  function actionCell(queue, can) {
    var td = cell('td', '');
    if (!actions || !can || !can.control) return td;
    ['pause', 'resume'].forEach(function (action) {
      var b = cell('button', action === 'pause' ? 'Pause' : 'Resume', 'action');
      b.type = 'button';
      b.dataset.action = action;
      b.dataset.url = base + '/api/queues/' + encodeURIComponent(queue) + '/' + action;
      td.appendChild(b);
    });
    return td;
  }

  function applyOverview(o) {
    o.queues.forEach(function (q) {
      var found = false;
      document.querySelectorAll('[data-q]').forEach(function (td) {
        if (td.dataset.q !== q.queue) return;
        found = true;
        var col = td.dataset.col;
        if (col === 'paused') showPaused(q.queue, q.paused);
        else if (col === 'workers') td.textContent = q.workers === null ? '—' : String(q.workers);
        else td.textContent = countText(q[col]);
      });
      var tbody = document.querySelector('#queues tbody');
      if (!found && tbody) {
        var tr = document.createElement('tr');
        tr.dataset.queue = q.queue;
        tr.appendChild(cell('th', q.queue));
        ['pending', 'delayed', 'deadLetters', 'paused', 'workers'].forEach(function (col) {
          var td = cell('td', '');
          td.dataset.q = q.queue;
          td.dataset.col = col;
          tr.appendChild(td);
        });
        tr.appendChild(actionCell(q.queue, o.can));
        tbody.appendChild(tr);
        applyOverview({ queues: [q], liveWorkers: o.liveWorkers, charts: null, can: o.can });
      }
    });
    var lw = document.getElementById('live-workers');
    if (lw && o.liveWorkers !== null) lw.textContent = String(o.liveWorkers);
    var charts = document.getElementById('charts');
    // Server-rendered SVG built from numbers only; no script can be in it.
    if (charts && o.charts) charts.innerHTML = o.charts;
  }

  function addEvent(e) {
    var tbody = document.querySelector('#events tbody');
    if (tbody) {
      var tr = document.createElement('tr');
      tr.className = 'ev-' + e.type;
      tr.appendChild(cell('td', e.at.slice(11, 23)));
      tr.appendChild(cell('td', e.type));
      var td = document.createElement('td');
      var a = document.createElement('a');
      a.href = base + '/tasks/' + encodeURIComponent(e.taskUUID);
      a.textContent = e.taskName || e.taskUUID;
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(cell('td', e.queue));
      tr.appendChild(cell('td', detail(e, 300)));
      tbody.insertBefore(tr, tbody.firstChild);
      while (tbody.children.length > 50) tbody.removeChild(tbody.lastChild);
    }
    if (page === 'task' && e.taskUUID === pageUuid) {
      var tl = document.querySelector('#timeline tbody');
      if (tl) {
        var row = document.createElement('tr');
        row.className = 'ev-' + e.type;
        row.appendChild(cell('td', e.at));
        row.appendChild(cell('td', e.type));
        row.appendChild(cell('td', e.workerId || ''));
        row.appendChild(cell('td', detail(e, 500)));
        tl.appendChild(row);
      }
      refreshTask();
    }
  }

  function setField(name, text) {
    var el = document.querySelector('[data-field="' + name + '"]');
    if (el && el.textContent !== text) el.textContent = text;
  }

  var taskBusy = false;
  function refreshTask() {
    if (taskBusy) return;
    taskBusy = true;
    fetch(base + '/api/tasks/' + encodeURIComponent(pageUuid), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) {
        if (!t || t.kind !== 'task') return;
        setField('state', t.state);
        setField('results', t.results === null ? '—' : showWire(t.results) || '(none)');
        setField('error', t.error === null ? '—' : show(t.error));
        if (t.control) {
          setField('progress', t.progress === null ? '(none reported)' : show(t.progress.data).slice(0, 500) + ' (' + t.progress.at + ')');
          setField('revoked', t.revoked === null ? 'no' : 'yes, ' + t.revoked.revokedAt + ': ' + t.revoked.reason);
        }
        meta.dataset.state = t.state;
        if (t.state === 'SUCCESS' || t.state === 'FAILURE') {
          var revoke = document.querySelector('button[data-action="revoke"]');
          if (revoke) revoke.hidden = true;
        }
      })
      .catch(function () {})
      .then(function () { taskBusy = false; });
  }

  function refreshWorkers() {
    var tbody = document.querySelector('#workers tbody');
    if (!tbody) return;
    fetch(base + '/api/workers', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.workers) return;
        while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
        data.workers.forEach(function (w) {
          var tr = document.createElement('tr');
          [w.id, w.queue, w.paused ? 'paused' : 'running', String(w.concurrency), String(w.running.length),
            String(w.processed), String(w.failed), (w.heartbeatAgeMs / 1000).toFixed(1) + ' s ago', w.version]
            .forEach(function (t) { tr.appendChild(cell('td', t)); });
          tbody.appendChild(tr);
        });
      })
      .catch(function () {});
  }

  document.addEventListener('click', function (ev) {
    var target = ev.target;
    var btn = target && target.closest ? target.closest('button[data-action]') : null;
    if (!btn) return;
    if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
    btn.disabled = true;
    fetch(btn.dataset.url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-machinery-csrf': csrf, 'content-type': 'application/json' },
      body: '{}',
    })
      .then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      })
      .then(function (res) {
        flash(res.data.message || (res.ok ? 'Done.' : 'Failed.'), !res.ok);
        if (res.ok && typeof res.data.paused === 'boolean') showPaused(res.data.queue, res.data.paused);
        if (res.ok && page === 'task') refreshTask();
        if (res.ok && page === 'dead-letters') window.setTimeout(function () { window.location.reload(); }, 300);
      })
      .catch(function (e) { flash('Failed: ' + e, true); })
      .then(function () { btn.disabled = false; });
  });

  if (typeof EventSource !== 'undefined') {
    var source = new EventSource(base + '/api/stream');
    source.addEventListener('open', function () {
      body.dataset.live = 'connected';
    });
    source.addEventListener('error', function () {
      body.dataset.live = 'reconnecting';
    });
    source.addEventListener('overview', function (m) {
      body.dataset.live = 'connected';
      applyOverview(JSON.parse(m.data));
      body.dataset.updates = String(Number(body.dataset.updates || '0') + 1);
      if (page === 'task' && meta.dataset.state !== 'SUCCESS' && meta.dataset.state !== 'FAILURE') refreshTask();
      if (page === 'workers') refreshWorkers();
    });
    source.addEventListener('failure', function (m) {
      flash('Reading the broker failed: ' + JSON.parse(m.data).message, true);
    });
    source.addEventListener('task', function (m) {
      addEvent(JSON.parse(m.data));
    });
  }
})();
`;
