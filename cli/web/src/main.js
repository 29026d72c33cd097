// The console's shell: layout, client-side routing on real URLs (History API), the banner for
// a daemon that went away, and the token dialog.

import './style.css';
import { h, replace, sleep } from './dom.js';
import { setHooks, healthy } from './api.js';
import { errorBox, nav } from './ui.js';
import { templatesPage } from './pages/templates.js';
import { templatePage } from './pages/template.js';
import { sessionsPage } from './pages/sessions.js';
import { sessionPage } from './pages/session.js';
import { systemPage } from './pages/system.js';

const routes = [
  [/^\/$/, templatesPage, 'templates'],
  [/^\/templates\/?$/, templatesPage, 'templates'],
  [/^\/templates\/([^/]+)\/?$/, templatePage, 'templates'],
  [/^\/sessions\/?$/, sessionsPage, 'sessions'],
  [/^\/sessions\/([^/]+)\/?$/, sessionPage, 'sessions'],
  [/^\/sessions\/([^/]+)\/executions\/([^/]+)\/?$/, sessionPage, 'sessions'],
  [/^\/system\/?$/, systemPage, 'system'],
];

const main = h('main', { id: 'main', tabindex: '-1' });
const banner = h('div', { class: 'banner', role: 'alert', hidden: true, 'data-testid': 'daemon-banner' });
const navLinks = {
  templates: h('a', { href: '/templates' }, 'Templates'),
  sessions: h('a', { href: '/sessions' }, 'Sessions'),
  system: h('a', { href: '/system' }, 'System'),
};
const status = h('span', { class: 'daemon-status', 'data-testid': 'daemon-status' }, '');

let current = null; // { controller } of the rendered page

/** Renders the page of the current URL; the previous page's streams and timers stop. */
async function render() {
  current?.controller.abort();
  const controller = new AbortController();
  const path = location.pathname;
  const route = routes.find(([re]) => re.test(path));
  current = { controller, page: route?.[1], result: null };
  const mine = current;
  for (const [name, a] of Object.entries(navLinks)) {
    if (route && route[2] === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'page' });
  replace(main, view);
  if (!route) {
    document.title = 'Not found · vm-system';
    replace(view, h('h1', null, 'Page not found'),
      h('p', null, `Nothing lives at ${path}. `, h('a', { href: '/templates' }, 'Go to the templates.')));
    return;
  }
  const params = path.match(route[0]).slice(1).map(decodeURIComponent);
  try {
    mine.result = await route[1](view, params, { signal: controller.signal, query: new URLSearchParams(location.search) });
  } catch (err) {
    if (controller.signal.aborted) return;
    replace(view, errorBox(err, { title: 'This page could not be loaded' }));
  }
}

/** Lets the rendered page take a URL change itself (same page, another execution). */
function updateInPlace() {
  const route = routes.find(([re]) => re.test(location.pathname));
  if (!route || !current || current.page !== route[1] || !current.result?.update) return false;
  return current.result.update(location.pathname.match(route[0]).slice(1).map(decodeURIComponent));
}

function go(path, { replace: swap = false } = {}) {
  if (swap) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  if (updateInPlace()) return;
  render().then(() => {
    if (!swap) { window.scrollTo(0, 0); main.focus({ preventScroll: true }); }
  });
}
nav.go = go;
nav.refresh = () => render();

// Same-origin links navigate in place; modified clicks (new tab…) keep the browser's way.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) go(url.pathname + url.search);
});
window.addEventListener('popstate', () => { if (!updateInPlace()) render(); });

// A daemon that cannot be reached: a banner, a health check every second, and the page
// rendered again once the daemon answers.
let watching = false;
async function daemonDown() {
  if (watching) return;
  watching = true;
  banner.hidden = false;
  replace(banner,
    h('strong', null, 'The vm-system daemon is not reachable. '),
    `Start it again (vm-system serve --listen ${location.host}); this page reconnects on its own.`);
  status.textContent = 'daemon unreachable';
  status.className = 'daemon-status down';
  while (!(await healthy())) await sleep(1000);
  banner.hidden = true;
  status.textContent = 'connected';
  status.className = 'daemon-status up';
  watching = false;
  render();
}

// The token dialog: asked once per tab, kept in sessionStorage by api.js.
function askToken(rejected) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, 'data-testid': 'token-input' });
    const dialog = h('dialog', { class: 'token-dialog', 'aria-labelledby': 'token-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'token-title' }, 'This daemon needs a token'),
        h('p', null, 'It was started with --token. Enter the same token; it is kept for this tab only.'),
        rejected ? errorBox(rejected) : null,
        h('label', null, 'Token ', input),
        h('div', { class: 'actions' }, h('button', { class: 'btn primary', type: 'submit' }, 'Continue'))));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(input.value.trim() || null); });
    dialog.addEventListener('cancel', (e) => e.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

setHooks({ down: daemonDown, askToken });

document.body.append(
  h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
  h('header', { class: 'topbar' },
    h('div', { class: 'topbar-inner' },
      h('a', { class: 'brand', href: '/templates' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '>_'), 'vm-system'),
      h('nav', { class: 'mainnav', 'aria-label': 'Main' }, navLinks.templates, navLinks.sessions, navLinks.system),
      status)),
  banner,
  main,
);
render();
