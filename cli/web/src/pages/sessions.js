// /sessions: every session with its status and last error, a filter by status, a form that
// starts a session on a worktree path, and Close.

import { api } from '../api.js';
import { h, badge, fmtAgo, fmtTime, field, replace, shortId } from '../dom.js';
import { button, card, crumbs, errorSlot, link, nav, pageHeader, table } from '../ui.js';

const STATUSES = ['starting', 'ready', 'crashed', 'closed'];
const WORKTREE_KEY = 'vm-system-worktree';

export async function sessionsPage(view, _params, { signal, query }) {
  document.title = 'Sessions · vm-system';
  const status = query.get('status') || '';
  const [sessions, templates] = await Promise.all([
    api('GET', `/sessions${status ? `?status=${encodeURIComponent(status)}` : ''}`, undefined, { signal }),
    api('GET', '/templates', undefined, { signal }),
  ]);
  const names = new Map(templates.map((t) => [t.id, t.name]));

  // The create form.
  const wanted = query.get('template');
  const template = h('select', { name: 'template_id', 'data-testid': 'session-template' },
    templates.map((t) => h('option', { value: t.id, selected: t.id === wanted }, t.name)));
  const worktree = h('input', { type: 'text', name: 'worktree_path', class: 'mono', value: localStorage.getItem(WORKTREE_KEY) || '/tmp', 'data-testid': 'session-worktree' });
  const workspace = h('input', { type: 'text', name: 'workspace_id', value: 'web-console' });
  const commit = h('input', { type: 'text', name: 'base_commit_oid', value: 'HEAD' });
  const f = {
    template: field('Template', template),
    worktree: field('Worktree path', worktree, 'An absolute path to an existing directory on the daemon\'s machine: files and startup files resolve inside it.'),
    workspace: field('Workspace id', workspace),
    commit: field('Base commit', commit),
  };
  const createError = errorSlot();
  const form = h('form', { class: 'create-session', 'data-testid': 'create-session' },
    h('div', { class: 'inline-form' }, f.template, f.worktree),
    h('details', null, h('summary', null, 'Workspace and commit (recorded with the session)'),
      h('div', { class: 'inline-form' }, f.workspace, f.commit)),
    h('div', { class: 'actions' }, h('button', { class: 'btn primary', type: 'submit', disabled: !templates.length }, 'Start session')),
    createError);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    createError.clear();
    Object.values(f).forEach((x) => x.setError(''));
    try {
      const s = await api('POST', '/sessions', {
        template_id: template.value, workspace_id: workspace.value, base_commit_oid: commit.value, worktree_path: worktree.value,
      });
      localStorage.setItem(WORKTREE_KEY, worktree.value);
      nav.go(`/sessions/${s.id}`);
    } catch (err) {
      const m = err.message || '';
      const target = /worktree/.test(m) ? f.worktree : /workspace/.test(m) ? f.workspace : /commit/.test(m) ? f.commit : /template/.test(m) ? f.template : null;
      target?.setError(`${err.code}: ${m}`);
      createError.show(err, { title: err.details?.session_id ? 'The session started but its startup failed' : undefined });
    }
  });

  // The list.
  const filter = h('select', { name: 'status', 'aria-label': 'Filter by status', 'data-testid': 'status-filter' },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  filter.addEventListener('change', () => nav.go(filter.value ? `/sessions?status=${filter.value}` : '/sessions'));
  const listError = errorSlot();
  const rows = sessions.map((s) => {
    const tid = s.template_id || s.vm_id;
    return h('tr', { 'data-testid': 'session-row', dataset: { id: s.id, status: s.status } },
      h('td', null, badge(s.status)),
      h('td', null, link(`/sessions/${s.id}`, h('span', { class: 'mono', title: s.id }, shortId(s.id)))),
      h('td', null, names.has(tid) ? link(`/templates/${tid}`, names.get(tid)) : h('span', { class: 'muted mono', title: tid }, `${shortId(tid)} (deleted)`)),
      h('td', { class: 'mono small wrap' }, s.worktree_path),
      h('td', { title: fmtTime(s.created_at) }, fmtAgo(s.created_at)),
      h('td', { class: 'small wrap last-error' }, s.last_error ? h('span', { class: 'text-error' }, s.last_error) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'row-actions' },
        link(`/sessions/${s.id}`, 'Open'),
        s.status === 'ready' || s.status === 'starting' ? button('Close', async () => {
          listError.clear();
          try {
            await api('POST', `/sessions/${s.id}/close`, {});
            nav.refresh();
          } catch (err) { listError.show(err); }
        }, { 'aria-label': `Close session ${shortId(s.id)}` }) : null));
  });

  replace(view,
    crumbs(['Sessions']),
    pageHeader('Sessions', 'Live runtimes built from a template, bound to a worktree. State persists across runs until closed.'),
    card('New session', templates.length ? form
      : h('p', null, 'Sessions are built from a template: ', link('/templates', 'create a template first'), '.')),
    listError,
    card(h('span', null, `Sessions (${sessions.length})`, h('span', { class: 'card-tools' }, filter)),
      table(['Status', 'Session', 'Template', 'Worktree', 'Created', 'Last error', ''], rows,
        { empty: status ? `No ${status} sessions.` : 'No sessions yet.', testid: 'sessions-table' })),
  );
}
