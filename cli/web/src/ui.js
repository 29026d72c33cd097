// Shared pieces of the pages: error boxes, headers, tables, navigation.

import { h } from './dom.js';

/** Navigates inside the console (set by main.js). */
export const nav = { go: (path) => { location.href = path; }, refresh: () => {} };

/** A link that navigates without reloading the page. */
export function link(href, ...children) {
  return h('a', { href }, ...children);
}

/** An API error as the user sees it: its code, its message and any ids it names. */
export function errorBox(err, { title } = {}) {
  const code = err && err.code ? err.code : 'ERROR';
  const details = err && err.details && typeof err.details === 'object' ? err.details : null;
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'api-error' },
    title ? h('div', { class: 'error-title' }, title) : null,
    h('div', null,
      h('code', { class: 'error-code' }, code),
      err && err.status ? h('span', { class: 'error-status' }, ` HTTP ${err.status}`) : null),
    h('div', { class: 'error-message' }, err && err.message ? err.message : String(err)),
    details && Object.keys(details).length
      ? h('div', { class: 'error-details' },
        Object.entries(details).map(([k, v]) => h('div', null,
          h('span', { class: 'muted' }, `${k}: `),
          k === 'session_id' ? link(`/sessions/${v}`, String(v))
            : k === 'template_id' ? link(`/templates/${v}`, String(v))
              : h('code', null, typeof v === 'string' ? v : JSON.stringify(v)))))
      : null);
}

/** A slot that shows an error (or nothing); `slot.show(err)`, `slot.clear()`. */
export function errorSlot() {
  const el = h('div', { class: 'error-slot', 'aria-live': 'polite' });
  el.show = (err, opts) => el.replaceChildren(errorBox(err, opts));
  el.clear = () => el.replaceChildren();
  return el;
}

/** The title block of a page: title, subtitle, actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h('div', { class: 'page-header' },
    h('div', null, h('h1', null, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    h('div', { class: 'actions' }, actions));
}

/** Breadcrumbs: pairs of [label, href]; the last one is the current page. */
export function crumbs(...items) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    items.map(([label, href], i) => [
      i ? h('span', { class: 'sep', 'aria-hidden': 'true' }, '/') : null,
      href && i < items.length - 1 ? link(href, label) : h('span', { 'aria-current': 'page' }, label),
    ]));
}

/** A card with a heading. */
export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', null, title) : null, children);
}

/** A table in a horizontally scrollable wrapper (narrow screens). */
export function table(headers, rows, { empty = 'Nothing yet.', testid } = {}) {
  if (!rows.length) return h('p', { class: 'empty', 'data-testid': testid }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { 'data-testid': testid },
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)));
}

/** A button that disables itself while its async action runs. */
export function button(label, action, attrs = {}) {
  const el = h('button', { type: 'button', class: 'btn', ...attrs }, label);
  el.addEventListener('click', async () => {
    if (el.disabled) return;
    el.disabled = true;
    try { await action(); } finally { if (el.isConnected) el.disabled = false; }
  });
  return el;
}
