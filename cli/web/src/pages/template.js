// /templates/{id}: a template's settings (edited with the API's validation errors shown next
// to the field), startup files, native modules, libraries, capabilities and sessions.

import { api } from '../api.js';
import { h, badge, fmtAgo, fmtTime, field, replace, shortId } from '../dom.js';
import { button, card, crumbs, errorSlot, link, nav, pageHeader, table } from '../ui.js';

const UNITS = { cpu_ms: 'ms of CPU', wall_ms: 'ms of wall time', mem_mb: 'MiB heap', max_events: 'events per run', max_output_kb: 'KiB of event payloads per run' };
const CHOICES = { unhandled_rejections: ['error', 'warn'] };
const CAPABILITY_KINDS = ['module', 'global', 'fs', 'net', 'env'];

export async function templatePage(view, [id], { signal }) {
  let flash = null;

  async function load() {
    const [detail, modules, libraries, sessions] = await Promise.all([
      api('GET', `/templates/${encodeURIComponent(id)}`, undefined, { signal }),
      api('GET', '/modules', undefined, { signal }),
      api('GET', '/libraries', undefined, { signal }),
      api('GET', '/sessions', undefined, { signal }),
    ]);
    const t = detail.template;
    document.title = `${t.name} · Templates · vm-system`;
    const mine = sessions.filter((s) => (s.template_id || s.vm_id) === t.id);
    const scroll = window.scrollY;
    replace(view,
      crumbs(['Templates', '/templates'], [t.name]),
      pageHeader(t.name,
        h('span', null, h('span', { class: 'tag' }, t.engine), ' · ',
          h('span', { class: 'mono', title: 'Template id' }, t.id), ' · updated ', h('span', { title: fmtTime(t.updated_at) }, fmtAgo(t.updated_at))),
        link(`/sessions?template=${t.id}`, 'New session'),
        button('Delete template', async () => {
          if (!confirm(`Delete template "${t.name}"? Its sessions and executions stay as history.`)) return;
          try {
            await api('DELETE', `/templates/${t.id}`);
            nav.go('/templates');
          } catch (err) { headerError.show(err); }
        }, { class: 'btn danger' })),
      headerError,
      h('p', { class: 'note' }, 'Changes apply to sessions created afterwards; live sessions keep the policy they started with.'),
      h('div', { class: 'grid' },
        settingsCard(t.id, detail.settings),
        h('div', { class: 'col' },
          startupCard(t.id, detail.startup_files || []),
          modulesCard(t.id, t.exposed_modules || [], modules),
          librariesCard(t.id, t.libraries || [], libraries)),
      ),
      h('div', { class: 'grid' },
        capabilitiesCard(t.id, detail.capabilities || []),
        sessionsCard(t.id, mine)),
    );
    window.scrollTo(0, scroll);
  }

  const headerError = errorSlot();
  const reload = async (message) => { flash = message; await load(); };

  function settingsCard(templateId, settings) {
    const fields = []; // { group, key, original, read, wrap }
    const groups = Object.entries(settings).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
    const sets = groups.map(([group, values]) => h('fieldset', null,
      h('legend', null, group),
      Object.entries(values).map(([key, original]) => {
        const name = `${group}.${key}`;
        let control; let read;
        if (typeof original === 'boolean') {
          control = h('input', { type: 'checkbox', name, checked: original });
          read = () => control.checked;
          const wrap = h('div', { class: 'field check' }, h('label', null, control, ` ${key}`), h('div', { class: 'field-error', role: 'alert' }));
          wrap.setError = (m) => { wrap.lastChild.textContent = m || ''; wrap.classList.toggle('invalid', Boolean(m)); };
          fields.push({ group, key, original, read, wrap });
          return wrap;
        }
        if (CHOICES[key]) {
          control = h('select', { name }, CHOICES[key].map((c) => h('option', { value: c, selected: c === original }, c)));
          read = () => control.value;
        } else if (Array.isArray(original)) {
          control = h('input', { type: 'text', name, value: original.join(', '), placeholder: 'comma-separated' });
          read = () => control.value.split(',').map((s) => s.trim()).filter(Boolean);
        } else if (typeof original === 'number') {
          control = h('input', { type: 'text', inputmode: 'numeric', name, value: String(original) });
          // Anything that is not a whole number goes to the API as typed: its validation
          // names the field and the allowed range.
          read = () => (/^\s*\d+\s*$/.test(control.value) ? Number(control.value) : control.value);
        } else {
          control = h('input', { type: 'text', name, value: original ?? '' });
          read = () => control.value;
        }
        const wrap = field(key, control, UNITS[key]);
        fields.push({ group, key, original, read, wrap });
        return wrap;
      })));
    const error = errorSlot();
    const saved = h('span', { class: 'saved', role: 'status' }, flash || '');
    flash = null;
    const form = h('form', { class: 'settings-form', 'data-testid': 'settings-form', novalidate: true },
      h('div', { class: 'fieldsets' }, sets),
      error,
      h('div', { class: 'actions' }, h('button', { class: 'btn primary', type: 'submit' }, 'Save settings'), saved));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.clear();
      saved.textContent = '';
      const patch = {};
      for (const f of fields) {
        f.wrap.setError('');
        const value = f.read();
        if (JSON.stringify(value) !== JSON.stringify(f.original)) (patch[f.group] ||= {})[f.key] = value;
      }
      if (!Object.keys(patch).length) { saved.textContent = 'Nothing changed.'; return; }
      try {
        await api('PATCH', `/templates/${templateId}/settings`, patch);
        await reload('Saved.');
      } catch (err) {
        const named = /\b(limits|resolver|runtime)\.([a-z_]+)/.exec(err.message || '');
        const target = named && fields.find((f) => f.group === named[1] && f.key === named[2]);
        if (target) {
          target.wrap.setError(`${err.code}: ${err.message}`);
          target.wrap.querySelector('input,select')?.focus();
        }
        error.show(err);
      }
    });
    return card('Settings', form);
  }

  function startupCard(templateId, files) {
    const error = errorSlot();
    const path = h('input', { type: 'text', name: 'path', placeholder: 'init.js', autocomplete: 'off', 'data-testid': 'startup-path' });
    const order = h('input', { type: 'text', inputmode: 'numeric', name: 'order_index', value: String(files.length ? Math.max(...files.map((f) => f.order_index)) + 10 : 0) });
    const mode = h('select', { name: 'mode' }, h('option', { value: 'eval' }, 'eval (script)'), h('option', { value: 'module' }, 'module (ESM)'));
    const pathField = field('Path (relative to the worktree)', path);
    const orderField = field('Order', order);
    const modeField = field('Mode', mode);
    const form = h('form', { class: 'inline-form', 'data-testid': 'add-startup' }, pathField, orderField, modeField,
      h('button', { class: 'btn', type: 'submit' }, 'Add'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.clear();
      for (const f of [pathField, orderField, modeField]) f.setError('');
      const body = { path: path.value, mode: mode.value };
      body.order_index = /^\s*-?\d+\s*$/.test(order.value) ? Number(order.value) : order.value;
      try {
        await api('POST', `/templates/${templateId}/startup-files`, body);
        await reload();
      } catch (err) {
        const target = err.code === 'STARTUP_MODE_UNSUPPORTED' || /mode/.test(err.message) ? modeField
          : /order_index/.test(err.message) ? orderField : pathField;
        target.setError(`${err.code}: ${err.message}`);
        error.show(err);
      }
    });
    const rows = files.map((f) => h('tr', null,
      h('td', { class: 'mono' }, f.path), h('td', { class: 'num' }, f.order_index), h('td', null, f.mode),
      h('td', { class: 'row-actions' }, button('Remove', async () => {
        try {
          await api('DELETE', `/templates/${templateId}/startup-files/${encodeURIComponent(f.path)}`);
          await reload();
        } catch (err) { error.show(err); }
      }, { 'aria-label': `Remove startup file ${f.path}` }))));
    return card('Startup files',
      h('p', { class: 'muted' }, 'Run in order when a session starts, each recorded as a startup execution.'),
      table(['Path', 'Order', 'Mode', ''], rows, { empty: 'No startup files.', testid: 'startup-table' }),
      form, error);
  }

  function modulesCard(templateId, enabled, catalog) {
    const error = errorSlot();
    const available = catalog.map((m) => (typeof m === 'string' ? { name: m } : m)).filter((m) => !enabled.includes(m.name));
    const select = h('select', { name: 'module', 'aria-label': 'Native module to enable' },
      available.map((m) => h('option', { value: m.name, title: m.description || '' }, m.name)));
    const add = button('Enable', async () => {
      error.clear();
      try {
        await api('POST', `/templates/${templateId}/modules`, { name: select.value });
        await reload();
      } catch (err) { error.show(err); }
    }, { 'aria-label': 'Enable the selected module' });
    return card('Native modules',
      enabled.length
        ? h('ul', { class: 'chips' }, enabled.map((name) => h('li', { class: 'chip' }, h('span', { class: 'mono' }, name),
          button('×', async () => {
            try { await api('DELETE', `/templates/${templateId}/modules/${encodeURIComponent(name)}`); await reload(); } catch (err) { error.show(err); }
          }, { class: 'chip-x', 'aria-label': `Disable module ${name}`, title: `Disable ${name}` }))))
        : h('p', { class: 'empty' }, 'No native modules: scripts get only the JavaScript built-ins.'),
      catalog.length ? h('ul', { class: 'catalog' }, catalog.map((m) => (typeof m === 'string' ? null
        : h('li', null, h('span', { class: 'mono' }, m.name), ' — ', h('span', { class: 'muted' }, m.description || ''))))) : null,
      available.length ? h('div', { class: 'inline-form' }, select, add) : null,
      error);
  }

  function librariesCard(templateId, enabled, catalog) {
    const error = errorSlot();
    const rows = catalog.map((lib) => {
      const on = enabled.includes(lib.name);
      return h('tr', null,
        h('td', null, h('span', { class: 'mono' }, lib.name), lib.description ? h('div', { class: 'muted small' }, lib.description) : null),
        h('td', null, lib.installed === undefined ? '—' : lib.installed ? badge('ok', 'installed') : badge('closed', 'not installed')),
        h('td', { class: 'row-actions' },
          lib.installed === false ? button('Install', async () => {
            error.clear();
            try { await api('POST', `/libraries/${encodeURIComponent(lib.name)}/install`); await reload(); } catch (err) { error.show(err); }
          }) : null,
          button(on ? 'Disable' : 'Enable', async () => {
            error.clear();
            try {
              if (on) await api('DELETE', `/templates/${templateId}/libraries/${encodeURIComponent(lib.name)}`);
              else await api('POST', `/templates/${templateId}/libraries`, { name: lib.name });
              await reload();
            } catch (err) { error.show(err); }
          }, { class: on ? 'btn active' : 'btn', 'aria-pressed': String(on) })));
    });
    return card('Libraries',
      table(['Library', 'Cache', ''], rows, { empty: 'The library catalog is empty.' }),
      error);
  }

  function capabilitiesCard(templateId, caps) {
    const error = errorSlot();
    const kind = h('select', { name: 'kind' }, CAPABILITY_KINDS.map((k) => h('option', { value: k }, k)));
    const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
    const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true });
    const config = h('input', { type: 'text', name: 'config', value: '{}', class: 'mono' });
    const fields = { kind: field('Kind', kind), name: field('Name', name), config: field('Config (JSON object)', config) };
    const form = h('form', { class: 'inline-form', 'data-testid': 'add-capability' }, fields.kind, fields.name, fields.config,
      h('label', { class: 'check' }, enabled, ' enabled'),
      h('button', { class: 'btn', type: 'submit' }, 'Add'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.clear();
      Object.values(fields).forEach((f) => f.setError(''));
      let parsed;
      try { parsed = JSON.parse(config.value || '{}'); } catch (err) {
        fields.config.setError(`Not valid JSON: ${err.message}`);
        return;
      }
      try {
        await api('POST', `/templates/${templateId}/capabilities`, { kind: kind.value, name: name.value, enabled: enabled.checked, config: parsed });
        await reload();
      } catch (err) {
        const target = /\bkind\b/.test(err.message) ? fields.kind : /\bconfig\b/.test(err.message) ? fields.config : fields.name;
        target.setError(`${err.code}: ${err.message}`);
        error.show(err);
      }
    });
    const rows = caps.map((c) => h('tr', null,
      h('td', null, c.kind), h('td', { class: 'mono' }, c.name),
      h('td', null, c.enabled ? badge('ok', 'enabled') : badge('closed', 'disabled')),
      h('td', { class: 'mono small' }, JSON.stringify(c.config))));
    return card('Capabilities',
      table(['Kind', 'Name', 'State', 'Config'], rows, { empty: 'No capabilities.', testid: 'capabilities-table' }),
      form, error);
  }

  function sessionsCard(templateId, sessions) {
    const rows = sessions.map((s) => h('tr', null,
      h('td', null, badge(s.status)),
      h('td', null, link(`/sessions/${s.id}`, h('span', { class: 'mono' }, shortId(s.id)))),
      h('td', { class: 'mono small' }, s.worktree_path),
      h('td', { title: fmtTime(s.created_at) }, fmtAgo(s.created_at))));
    return card('Sessions from this template',
      table(['Status', 'Session', 'Worktree', 'Created'], rows, { empty: 'No sessions yet.' }),
      h('p', null, link(`/sessions?template=${templateId}`, 'Start a session from this template →')));
  }

  await load();
}
