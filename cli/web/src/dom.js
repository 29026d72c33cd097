// Small DOM helpers: the console builds its pages with plain elements, no framework.

/**
 * Creates an element. `attrs` keys: `class`, `on<event>` handlers, `dataset`, boolean
 * attributes (set when true, left out when false), anything else as an attribute.
 * Children may be strings, nodes, arrays or null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked') {
      el.checked = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings, nodes, nested arrays; falsy ones skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * The last 8 characters of a UUID, for tables (the full id goes in a title). The daemon's
 * ids are time-ordered (UUIDv7): ids made in the same minute share their first characters,
 * their last ones are random.
 */
export function shortId(id) {
  return id ? String(id).slice(-8) : '';
}

/** A RFC 3339 timestamp in the reader's local time, or an em dash. */
export function fmtTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** "3 s ago", "5 min ago"… for recent timestamps. */
export function fmtAgo(ts) {
  if (!ts) return '—';
  const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (Number.isNaN(s)) return String(ts);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return fmtTime(ts);
}

/** A duration in milliseconds: "0.42 ms", "12.3 ms", "1.25 s". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
  const n = Number(ms);
  if (n < 1) return `${n.toFixed(2)} ms`;
  if (n < 1000) return `${n < 100 ? n.toFixed(1) : Math.round(n)} ms`;
  return `${(n / 1000).toFixed(2)} s`;
}

/** A byte count: "512 B", "1.5 KiB". */
export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A status pill (`ready`, `ok`, `error`…), coloured by the stylesheet. */
export function badge(status, extra) {
  return h('span', { class: `badge badge-${status}` }, extra ?? status);
}

/** A labelled form control with room for an error message under it. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const error = h('div', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  control.setAttribute('aria-describedby', `${id}-error`);
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('div', { class: 'hint' }, hint) : null,
    error);
  wrap.setError = (message) => {
    error.textContent = message || '';
    control.toggleAttribute('aria-invalid', Boolean(message));
    wrap.classList.toggle('invalid', Boolean(message));
  };
  return wrap;
}

/** Sleeps `ms` milliseconds; resolves early (without throwing) when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
