// /templates: every template, and a form to create one.

import { api } from '../api.js';
import { h, fmtAgo, fmtTime, field, replace, shortId } from '../dom.js';
import { card, crumbs, errorSlot, link, nav, pageHeader, table } from '../ui.js';

export async function templatesPage(view, _params, { signal }) {
  document.title = 'Templates · vm-system';
  const [templates, sessions] = await Promise.all([
    api('GET', '/templates', undefined, { signal }),
    api('GET', '/sessions', undefined, { signal }),
  ]);
  const liveByTemplate = new Map();
  for (const s of sessions) {
    if (s.status === 'ready') liveByTemplate.set(s.template_id, (liveByTemplate.get(s.template_id) || 0) + 1);
  }

  const name = h('input', { type: 'text', name: 'name', placeholder: 'e.g. sandbox', autocomplete: 'off', 'data-testid': 'template-name' });
  const nameField = field('Name', name);
  const createError = errorSlot();
  const form = h('form', { class: 'inline-form', 'data-testid': 'create-template' },
    nameField,
    h('button', { class: 'btn primary', type: 'submit' }, 'Create template'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    createError.clear();
    nameField.setError('');
    try {
      const t = await api('POST', '/templates', { name: name.value });
      nav.go(`/templates/${t.id}`);
    } catch (err) {
      if (err.code === 'VALIDATION_ERROR' && /name/i.test(err.message)) nameField.setError(err.message);
      createError.show(err);
    }
  });

  const rows = templates.map((t) => h('tr', { 'data-testid': 'template-row' },
    h('td', null, link(`/templates/${t.id}`, h('strong', null, t.name)), h('div', { class: 'mono muted', title: t.id }, shortId(t.id))),
    h('td', null, h('span', { class: 'tag' }, t.engine)),
    h('td', { class: 'num' }, (t.exposed_modules || []).length),
    h('td', { class: 'num' }, (t.libraries || []).length),
    h('td', { class: 'num' }, liveByTemplate.get(t.id) || '—'),
    h('td', { title: fmtTime(t.created_at) }, fmtAgo(t.created_at)),
    h('td', { class: 'row-actions' },
      link(`/templates/${t.id}`, 'Open'),
      link(`/sessions?template=${t.id}`, 'New session'))));

  replace(view,
    crumbs(['Templates']),
    pageHeader('Templates', 'Saved runtime policies: limits, startup files, modules and libraries. Sessions are built from them.'),
    card('New template', form, createError),
    card(`All templates (${templates.length})`,
      table(['Name', 'Engine', 'Modules', 'Libraries', 'Live sessions', 'Created', ''], rows,
        { empty: 'No templates yet: create one above, then start a session from it.', testid: 'templates-table' })),
  );
  if (!templates.length) name.focus();
}
