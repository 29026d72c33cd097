// /system: the daemon's health, its live sessions (runtime summary), and the catalogs of
// native modules and libraries (with the library cache and Install).

import { api } from '../api.js';
import { h, badge, replace, shortId } from '../dom.js';
import { button, card, crumbs, errorSlot, link, nav, pageHeader, table } from '../ui.js';

export async function systemPage(view, _params, { signal }) {
  document.title = 'System · vm-system';
  const [health, summary, modules, libraries] = await Promise.all([
    api('GET', '/health', undefined, { signal }),
    api('GET', '/runtime/summary', undefined, { signal }),
    api('GET', '/modules', undefined, { signal }),
    api('GET', '/libraries', undefined, { signal }),
  ]);
  const libError = errorSlot();
  replace(view,
    crumbs(['System']),
    pageHeader('System', `The daemon at ${location.host}: its health, live sessions and catalogs.`),
    h('div', { class: 'grid' },
      card('Daemon',
        h('p', null, 'Health: ', badge(health.status === 'ok' ? 'ok' : 'error', health.status)),
        h('p', { 'data-testid': 'active-sessions' }, `${summary.active_sessions} live session${summary.active_sessions === 1 ? '' : 's'} in this daemon`),
        summary.active_session_ids.length
          ? h('ul', { class: 'chips' }, summary.active_session_ids.map((sid) => h('li', { class: 'chip' }, link(`/sessions/${sid}`, h('span', { class: 'mono' }, shortId(sid))))))
          : null),
      card('Native modules',
        table(['Module', 'What it gives scripts'], modules.map((m) => h('tr', null,
          h('td', { class: 'mono' }, m.name),
          h('td', null, m.description || '', m.functions?.length ? h('div', { class: 'muted small mono' }, m.functions.join(', ')) : null))),
        { empty: 'No native modules.' }))),
    card('Libraries',
      h('p', { class: 'muted' }, 'A template may enable any of these; a session loads them from the daemon\'s library cache.'),
      table(['Library', 'Global', 'Cache', ''], libraries.map((lib) => h('tr', null,
        h('td', null, h('span', { class: 'mono' }, lib.name), lib.description ? h('div', { class: 'muted small' }, lib.description) : null),
        h('td', { class: 'mono' }, lib.global || '—'),
        h('td', null, lib.installed ? badge('ok', 'installed') : badge('closed', 'not installed')),
        h('td', { class: 'row-actions' }, lib.installed ? null : button('Install', async () => {
          libError.clear();
          try {
            await api('POST', `/libraries/${encodeURIComponent(lib.name)}/install`);
            nav.refresh();
          } catch (err) { libError.show(err); }
        })))),
      { empty: 'The library catalog is empty.' }),
      libError),
  );
}
