// /sessions/{id} and /sessions/{id}/executions/{execution}: the session console. An editor
// (Ctrl/Cmd+Enter runs), the events of a run as they happen, Cancel while it runs, the
// execution history with status, duration and metrics, and any past execution's events.

import { api } from '../api.js';
import { h, badge, fmtAgo, fmtBytes, fmtMs, fmtTime, replace, shortId } from '../dom.js';
import { createEditor } from '../editor.js';
import { follow } from '../stream.js';
import { button, card, crumbs, errorSlot, link, nav, pageHeader, table } from '../ui.js';

const EXAMPLES = [
  ['Console lines and a value', "console.log('hello from the sandbox');\nconsole.info('numbers', 1, 2.5, null, [1, 2], { a: 1 });\nconsole.warn('careful');\nconsole.error('something failed');\nconst data = { sum: [1, 2, 3].reduce((a, b) => a + b, 0), tags: ['x', 'y'] };\ndata"],
  ['An exception', "function parse(text) {\n  return JSON.parse(text);\n}\nparse('{oops')"],
  ['State across runs', "var counter = (globalThis.counter ?? 0) + 1;\n`run number ${counter}`"],
  ['Top-level await', "const answer = await Promise.resolve(42);\nconsole.log('awaited', answer);\nanswer"],
  ['Progress while running', "for (let i = 1; i <= 5; i++) {\n  const until = Date.now() + 300;\n  while (Date.now() < until) {}\n  console.log(`step ${i} of 5`);\n}\n'finished'"],
  ['An endless loop (Cancel it)', 'let spins = 0;\nwhile (true) { spins++; }'],
];
const FINAL = new Set(['ok', 'error', 'timeout', 'cancelled']);

/** One event as a line of the output. */
function eventLine(ev) {
  const p = ev.payload || {};
  const seq = h('span', { class: 'seq', title: `seq ${ev.seq} · ${fmtTime(ev.ts)}` }, ev.seq);
  const line = (cls, ...body) => h('li', { class: `ev ev-${ev.type} ${cls || ''}`, dataset: { seq: ev.seq, type: ev.type } }, seq, h('div', { class: 'ev-body' }, body));
  switch (ev.type) {
    case 'input_echo':
      return p.path !== undefined
        ? line('', h('span', { class: 'prompt' }, '▶ '), h('span', { class: 'mono' }, p.path))
        : line('', h('span', { class: 'prompt', 'aria-label': 'input' }, '› '), h('pre', { class: 'echo' }, p.text));
    case 'console':
      return line(`level-${p.level}`, p.level && p.level !== 'log' ? h('span', { class: 'lvl' }, p.level) : null, h('pre', { class: 'out' }, p.text));
    case 'value': {
      const json = 'json' in p ? JSON.stringify(p.json, null, 2) : null;
      const showJson = json !== null && (typeof p.json === 'object' && p.json !== null ? true : JSON.stringify(p.json) !== p.preview);
      return line('', h('span', { class: 'prompt', 'aria-label': 'value' }, '← '),
        h('div', { class: 'value' },
          h('pre', { class: 'preview' }, p.preview),
          h('span', { class: 'tag', title: 'value type' }, p.type),
          showJson ? h('pre', { class: 'json', 'aria-label': 'value as JSON' }, json) : null,
          json === null && p.type !== 'undefined' ? h('span', { class: 'muted small' }, ' (no JSON form)') : null));
    }
    case 'exception':
      return line('', h('div', { class: 'exception' },
        h('div', null, p.name ? h('span', { class: 'tag tag-error' }, p.name) : null, ' ', h('strong', { class: 'exc-message' }, p.message)),
        p.stack ? h('pre', { class: 'stack' }, p.stack) : null));
    case 'system':
      return line(`level-${p.level}`, h('span', { class: 'sys' }, h('span', { class: 'lvl' }, `system ${p.level || ''}`), ' ', p.message));
    default:
      return line('', h('span', { class: 'tag' }, ev.type), ' ', h('pre', { class: 'out' }, JSON.stringify(p)));
  }
}

// Over HTTP an execution's error is `{message}` (the shape the original UI reads).
function errorText(error) {
  return typeof error === 'object' && error !== null ? String(error.message) : String(error);
}

function metricsText(e) {
  const m = e.metrics || {};
  return [
    `${fmtMs(m.duration_ms)}`,
    m.cpu_ms !== undefined ? `cpu ${fmtMs(m.cpu_ms)}` : null,
    m.event_count !== undefined ? `${m.event_count} events` : null,
    m.output_bytes !== undefined ? fmtBytes(m.output_bytes) : null,
    m.limit ? `limit: ${m.limit}` : null,
  ].filter(Boolean).join(' · ');
}

function summary(e) {
  if (e.kind === 'repl') return (e.input || '').split('\n')[0];
  return e.path || '';
}

/** The block of one execution in the output: a header and its events. */
function runBlock(sessionId, exec) {
  const status = h('span', null, badge(exec.status));
  const meta = h('span', { class: 'run-meta' });
  const events = h('ol', { class: 'events' });
  const problem = h('div');
  const el = h('article', { class: 'run', 'data-testid': 'execution', dataset: { execution: exec.id, status: exec.status } },
    h('header', { class: 'run-head' },
      status,
      h('span', { class: 'tag' }, exec.kind),
      link(`/sessions/${sessionId}/executions/${exec.id}`, h('span', { class: 'mono', title: exec.id }, shortId(exec.id))),
      meta),
    events, problem);
  let ticker = null;
  const started = Date.now();
  const set = (e) => {
    el.dataset.status = e.status;
    replace(status, badge(e.status));
    if (FINAL.has(e.status)) {
      clearInterval(ticker);
      meta.textContent = metricsText(e);
      if (e.error && !el.querySelector('.ev-exception')) problem.replaceChildren(h('div', { class: 'run-error' }, errorText(e.error)));
    }
  };
  if (exec.status === 'running') {
    ticker = setInterval(() => { meta.textContent = `running · ${fmtMs(Date.now() - started)}`; }, 100);
  }
  set(exec);
  return {
    el,
    add: (ev) => events.append(eventLine(ev)),
    finish: set,
    fail: (err, errorBox) => { clearInterval(ticker); problem.replaceChildren(errorBox); },
    stopTicker: () => clearInterval(ticker),
  };
}

export async function sessionPage(view, [id, executionId], { signal }) {
  const [session, templates] = await Promise.all([
    api('GET', `/sessions/${encodeURIComponent(id)}`, undefined, { signal }),
    api('GET', '/templates', undefined, { signal }),
  ]);
  const tid = session.template_id || session.vm_id;
  const template = templates.find((t) => t.id === tid);
  document.title = `Session ${shortId(id)} · vm-system`;
  const ready = session.status === 'ready';

  const draftKey = `vm-system-draft:${id}`;
  let running = null; // { exec, stop }
  let stopView = null; // the stream of a past execution being shown
  signal.addEventListener('abort', () => { running?.stop(); stopView?.(); });

  // Output.
  const output = h('div', { class: 'output', role: 'log', 'aria-live': 'polite', 'aria-label': 'Output', 'data-testid': 'output' });
  const streamState = h('span', { class: 'stream-state', 'data-testid': 'stream-state' });
  const hint = () => h('p', { class: 'empty' }, ready
    ? 'Run code to watch its events arrive here. Pick a run in the history to read its events.'
    : 'Pick a run in the history to read its events.');
  output.append(hint());
  const show = (block) => {
    output.querySelector('.empty')?.remove();
    output.append(block.el);
    block.el.scrollIntoView({ block: 'nearest' });
  };

  // Editor and run controls.
  const runError = errorSlot();
  const runBtn = h('button', { class: 'btn primary', type: 'button', disabled: !ready, title: 'Run (Ctrl+Enter or ⌘+Enter)', 'data-testid': 'run' }, '▶ Run');
  const cancelBtn = h('button', { class: 'btn danger', type: 'button', hidden: true, 'data-testid': 'cancel' }, '■ Cancel');
  const examples = h('select', { 'aria-label': 'Load an example', 'data-testid': 'examples' },
    h('option', { value: '' }, 'Examples…'), EXAMPLES.map(([name], i) => h('option', { value: String(i) }, name)));
  const editorHost = h('div', { class: 'editor-host' });
  const editor = createEditor(editorHost, {
    doc: sessionStorage.getItem(draftKey) ?? "console.log('hello');\n1 + 1",
    onRun: () => run(),
    onChange: (text) => sessionStorage.setItem(draftKey, text),
  });
  examples.addEventListener('change', () => {
    if (examples.value === '') return;
    editor.set(EXAMPLES[Number(examples.value)][1]);
    examples.value = '';
    editor.focus();
  });

  function setRunning(next) {
    running = next;
    runBtn.disabled = Boolean(next) || !ready;
    runBtn.textContent = next ? 'Running…' : '▶ Run';
    cancelBtn.hidden = !next;
    cancelBtn.disabled = false;
  }

  async function run() {
    if (running || !ready) return;
    runError.clear();
    const input = editor.get();
    setRunning({ stop: () => {} });
    let exec;
    try {
      exec = await api('POST', '/executions/repl', { session_id: id, input, wait: false });
    } catch (err) {
      setRunning(null);
      runError.show(err);
      return;
    }
    stopView?.();
    history.replaceState(null, '', `/sessions/${id}/executions/${exec.id}`);
    const block = runBlock(id, exec);
    show(block);
    const stop = follow(exec.id, {
      onEvent: (ev) => { block.add(ev); block.el.scrollIntoView({ block: 'end' }); },
      onState: (s) => { streamState.textContent = s === 'live' ? '● live' : '◌ reconnecting…'; streamState.className = `stream-state ${s}`; },
      onEnd: (final) => {
        block.finish(final);
        streamState.textContent = '';
        setRunning(null);
        loadHistory();
      },
      onError: (err) => {
        block.fail(err, errorBoxFor(err));
        streamState.textContent = '';
        setRunning(null);
        loadHistory();
      },
    });
    running = { exec, stop };
  }
  const errorBoxFor = (err) => { const s = errorSlot(); s.show(err); return s; };

  runBtn.addEventListener('click', () => run());
  cancelBtn.addEventListener('click', async () => {
    if (!running?.exec) return;
    cancelBtn.disabled = true;
    try {
      await api('POST', `/executions/${running.exec.id}/cancel`, {});
    } catch (err) {
      runError.show(err);
      cancelBtn.disabled = false;
    }
  });

  // History.
  const historyHost = h('div');
  async function loadHistory() {
    try {
      const list = await api('GET', `/executions?session_id=${encodeURIComponent(id)}&limit=50`, undefined, { signal });
      const rows = list.map((e, i) => h('tr', { 'data-testid': 'history-row', dataset: { execution: e.id, status: e.status }, class: e.id === currentExecution() ? 'selected' : '' },
        h('td', { class: 'num muted' }, list.length - i),
        h('td', null, link(`/sessions/${id}/executions/${e.id}`, h('span', { class: 'mono', title: e.id }, shortId(e.id)))),
        h('td', null, e.kind),
        h('td', { class: 'mono small input-cell', title: e.input ?? e.path ?? '' }, summary(e)),
        h('td', null, badge(e.status)),
        h('td', { title: fmtTime(e.started_at) }, fmtAgo(e.started_at)),
        h('td', { class: 'num' }, fmtMs(e.metrics?.duration_ms)),
        h('td', { class: 'num' }, fmtMs(e.metrics?.cpu_ms)),
        h('td', { class: 'num' }, e.metrics?.event_count ?? '—'),
        h('td', { class: 'num' }, fmtBytes(e.metrics?.output_bytes))));
      replace(historyHost, table(['#', 'Execution', 'Kind', 'Input', 'Status', 'Started', 'Duration', 'CPU', 'Events', 'Output'], rows,
        { empty: 'No executions yet.', testid: 'history' }));
    } catch (err) {
      if (!signal.aborted) replace(historyHost, errorBoxFor(err));
    }
  }
  const currentExecution = () => /\/executions\/([^/]+)/.exec(location.pathname)?.[1];

  // A past (or running) execution's events, shown alone in the output.
  async function showExecution(eid) {
    stopView?.();
    stopView = null;
    if (running?.exec?.id === eid) return;
    output.replaceChildren();
    try {
      const exec = await api('GET', `/executions/${encodeURIComponent(eid)}`, undefined, { signal });
      const block = runBlock(id, exec);
      show(block);
      if (exec.status === 'running') {
        stopView = follow(eid, { onEvent: block.add, onEnd: (final) => { block.finish(final); loadHistory(); }, onError: (err) => block.fail(err, errorBoxFor(err)) });
      } else {
        const events = await api('GET', `/executions/${encodeURIComponent(eid)}/events`, undefined, { signal });
        events.forEach(block.add);
      }
    } catch (err) {
      if (!signal.aborted) output.replaceChildren(errorBoxFor(err));
    }
    for (const row of historyHost.querySelectorAll('tr[data-execution]')) row.classList.toggle('selected', row.dataset.execution === eid);
  }

  const closeBtn = ready || session.status === 'starting'
    ? button('Close session', async () => {
      try { await api('POST', `/sessions/${id}/close`, {}); nav.refresh(); } catch (err) { runError.show(err); }
    }, { class: 'btn', 'data-testid': 'close-session' })
    : null;

  replace(view,
    crumbs(['Sessions', '/sessions'], [shortId(id)]),
    pageHeader(h('span', null, 'Session ', h('span', { class: 'mono' }, shortId(id)), ' ', badge(session.status)),
      h('span', null,
        'Template ', template ? link(`/templates/${template.id}`, template.name) : h('span', { class: 'mono' }, `${shortId(tid)} (deleted)`),
        ' · worktree ', h('span', { class: 'mono' }, session.worktree_path),
        ' · started ', h('span', { title: fmtTime(session.created_at) }, fmtAgo(session.created_at))),
      closeBtn),
    session.last_error ? h('div', { class: 'error-box', 'data-testid': 'last-error' }, h('div', { class: 'error-title' }, 'Last error'), h('div', { class: 'error-message' }, session.last_error)) : null,
    !ready ? h('p', { class: 'note' }, `This session is ${session.status}: it cannot run code any more. `, link(`/sessions?template=${tid}`, 'Start a new session'), ' to keep going.') : null,
    h('div', { class: 'console' },
      h('section', { class: 'card editor-card', 'aria-label': 'Editor' },
        h('div', { class: 'toolbar' }, h('h2', null, 'Code'), examples, h('span', { class: 'spacer' }), cancelBtn, runBtn),
        editorHost,
        h('div', { class: 'muted small' }, 'Ctrl+Enter (⌘+Enter) runs. Tab leaves the editor. Globals persist between runs.'),
        runError),
      h('section', { class: 'card output-card', 'aria-label': 'Output' },
        h('div', { class: 'toolbar' }, h('h2', null, 'Output'), streamState, h('span', { class: 'spacer' }),
          h('button', { class: 'btn subtle', type: 'button', onclick: () => { stopView?.(); output.replaceChildren(hint()); } }, 'Clear')),
        output)),
    card('Execution history', historyHost),
  );
  await loadHistory();
  if (executionId) await showExecution(executionId);
  if (ready) editor.focus();

  return {
    /** Called by the router when only the execution part of the URL changed. */
    update: (params) => {
      if (params[0] !== id) return false;
      if (params[1]) showExecution(params[1]);
      return true;
    },
  };
}
