// Browser tests of the web console: Debian's Chromium driven by playwright-core against the
// real daemon (`vm-system serve`), one daemon per test file, steps in order like a user's
// visit. Screenshots go to $SCREENSHOT_DIR (`make screenshots` points it at the committed
// cli/web/screenshots).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = resolve(process.env.VM_SYSTEM_BIN || '../../target/debug/vm-system');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TMP = mkdtempSync(join(tmpdir(), 'vm-system-web-'));
const SHOTS = resolve(process.env.SCREENSHOT_DIR || join(TMP, 'screenshots'));
const WORKTREE = join(TMP, 'worktree');
const DB = join(TMP, 'console.db');
const TIMEOUT = 15_000;

let browser;
let daemon;
let page;
let base;
const state = {};

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Starts `vm-system serve` and waits until /api/v1/health answers. */
async function startDaemon(port, extra = [], db = DB) {
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--db', db,
    '--library-cache', join(TMP, 'libraries'), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((ok) => proc.on('exit', ok));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`vm-system serve exited ${proc.exitCode}:\n${log}`);
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.status === 200 || res.status === 401) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`vm-system serve not healthy after 10 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url, exited, log: () => log };
}

async function stopDaemon(d) {
  if (!d || d.proc.exitCode !== null) return;
  d.proc.kill('SIGTERM');
  const timer = setTimeout(() => d.proc.kill('SIGKILL'), 8000);
  await d.exited;
  clearTimeout(timer);
}

/** Replaces the editor's text as a paste would (one insertion, no auto-closed brackets). */
async function setCode(code) {
  const editor = page.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(code);
}

const lastRun = () => page.locator('[data-testid=execution]').last();

/**
 * Starts a run with `trigger()` and returns the locator of its block in the output (a new
 * block, never an older one that happens to have the same status); with `status`, waits
 * until the run ends with it.
 */
async function startRun(trigger, status) {
  const blocks = page.locator('[data-testid=execution]');
  const before = await blocks.count();
  await trigger();
  const block = blocks.nth(before);
  await block.waitFor();
  if (status) await block.and(page.locator(`[data-status=${status}]`)).waitFor();
  return block;
}

before(async () => {
  mkdirSync(WORKTREE);
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(WORKTREE, 'init.js'), "globalThis.greeting = 'hello from init.js';\nconsole.log('init ran');\n");
  const port = await freePort();
  daemon = await startDaemon(port);
  base = daemon.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(TIMEOUT);
  state.pageErrors = [];
  page.on('pageerror', (err) => state.pageErrors.push(String(err)));
  // Nothing may be loaded from another host.
  state.foreign = [];
  page.on('request', (req) => { if (!req.url().startsWith(base) && !req.url().startsWith('data:')) state.foreign.push(req.url()); });
});

after(async () => {
  await browser?.close();
  await stopDaemon(daemon);
  await stopDaemon(state.tokenDaemon);
  rmSync(TMP, { recursive: true, force: true, maxRetries: 3 });
});

test('creates a template, edits its settings with validation, adds a startup file', async () => {
  await page.goto(`${base}/`);
  await page.getByTestId('template-name').fill('web-console-test');
  await page.getByRole('button', { name: 'Create template' }).click();
  await page.waitForURL(/\/templates\/[0-9a-f-]{36}$/);
  state.templateId = page.url().split('/').pop();
  await page.getByRole('heading', { name: 'web-console-test' }).waitFor();

  // A value the core refuses: the error names the field and shows next to it, with its code.
  const cpu = page.locator('input[name="limits.cpu_ms"]');
  await cpu.fill('0');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const cpuError = page.locator('.field:has(input[name="limits.cpu_ms"]) .field-error');
  await cpuError.filter({ hasText: 'limits.cpu_ms' }).waitFor();
  assert.match(await cpuError.textContent(), /VALIDATION_ERROR/);
  assert.match(await page.getByTestId('settings-form').getByTestId('api-error').textContent(), /VALIDATION_ERROR.*limits\.cpu_ms/s);

  await cpu.fill('2000');
  await page.locator('input[name="limits.wall_ms"]').fill('4000');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Saved.').waitFor();
  assert.equal(await page.locator('input[name="limits.cpu_ms"]').inputValue(), '2000');
  const detail = await (await fetch(`${base}/api/v1/templates/${state.templateId}`)).json();
  assert.equal(detail.settings.limits.cpu_ms, 2000);
  assert.equal(detail.settings.limits.wall_ms, 4000);

  // A path escaping the worktree is refused with INVALID_PATH next to the path.
  await page.getByTestId('startup-path').fill('../outside.js');
  await page.getByTestId('add-startup').getByRole('button', { name: 'Add' }).click();
  await page.getByTestId('add-startup').locator('.field-error').filter({ hasText: 'INVALID_PATH' }).waitFor();

  await page.getByTestId('startup-path').fill('init.js');
  await page.getByTestId('add-startup').getByRole('button', { name: 'Add' }).click();
  await page.getByTestId('startup-table').getByText('init.js').waitFor();

  // A native module from the catalog and a capability.
  await page.getByLabel('Native module to enable').selectOption('database');
  await page.getByRole('button', { name: 'Enable the selected module' }).click();
  await page.getByRole('button', { name: 'Disable module database' }).waitFor();
  const caps = page.getByTestId('add-capability');
  await caps.getByLabel('Kind').selectOption('env');
  await caps.getByLabel('Name').fill('HOME');
  await caps.getByLabel('Config (JSON object)').fill('{"read": true}');
  await caps.getByRole('button', { name: 'Add' }).click();
  await page.getByTestId('capabilities-table').getByText('HOME').waitFor();
  const after = await (await fetch(`${base}/api/v1/templates/${state.templateId}`)).json();
  assert.deepEqual(after.template.exposed_modules, ['database']);
  assert.deepEqual(after.capabilities.map((c) => [c.kind, c.name, c.config]), [['env', 'HOME', { read: true }]]);
  await page.screenshot({ path: join(SHOTS, 'template.png'), fullPage: true });
});

test('starts a session on a worktree path (bad paths are shown with their code)', async () => {
  await page.getByRole('link', { name: 'New session' }).first().click();
  await page.waitForURL(/\/sessions\?template=/);
  await page.getByTestId('session-worktree').fill(join(TMP, 'missing'));
  await page.getByRole('button', { name: 'Start session' }).click();
  const err = page.getByTestId('create-session').getByTestId('api-error');
  await err.waitFor();
  assert.match(await err.textContent(), /VALIDATION_ERROR/);

  await page.getByTestId('session-worktree').fill(WORKTREE);
  await page.getByRole('button', { name: 'Start session' }).click();
  await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
  state.sessionId = page.url().split('/').pop();
  await page.locator('.page-header .badge-ready').waitFor();
  // The startup file ran as an execution of its own.
  await page.getByTestId('history-row').filter({ hasText: 'startup' }).waitFor();
});

test('runs a snippet: console lines arrive live, then the value with its JSON', async () => {
  await setCode("console.log('first line');\nconsole.warn('a warning');\n"
    + 'const until = Date.now() + 1500; while (Date.now() < until) {}\n'
    + "console.log('second line', greeting);\n({ answer: 42, list: [1, 2] })");
  const run = await startRun(() => page.keyboard.press('Control+Enter'));
  // Live: the first line is on the page while the execution is still running.
  await run.locator('.ev-console', { hasText: 'first line' }).waitFor();
  assert.equal(await run.getAttribute('data-status'), 'running');
  assert.equal(await page.getByTestId('cancel').isVisible(), true);
  assert.equal(await run.locator('.ev-console', { hasText: 'second line' }).count(), 0);

  await run.and(page.locator('[data-status=ok]')).waitFor();
  await run.locator('.ev-console.level-warn', { hasText: 'a warning' }).waitFor();
  await run.locator('.ev-console', { hasText: 'second line hello from init.js' }).waitFor();
  const value = run.locator('.ev-value');
  assert.match(await value.locator('.json').textContent(), /"answer": 42/);
  assert.equal(await value.locator('.tag').textContent(), 'object');
  assert.match(page.url(), new RegExp(`/sessions/${state.sessionId}/executions/[0-9a-f-]{36}$`));
  assert.equal(await page.getByTestId('cancel').isVisible(), false);
});

test('an exception shows its name, message and stack', async () => {
  await setCode("function check(n) {\n  if (n > 1) throw new RangeError('n is too big: ' + n);\n}\ncheck(5)");
  const run = await startRun(() => page.getByTestId('run').click(), 'error');
  const exc = run.locator('.ev-exception');
  assert.match(await exc.textContent(), /RangeError/);
  assert.match(await exc.locator('.exc-message').textContent(), /n is too big: 5/);
  assert.match(await exc.locator('.stack').textContent(), /check/);
  await page.screenshot({ path: join(SHOTS, 'console.png'), fullPage: true });
});

test('a SyntaxError is shown with its message', async () => {
  await setCode('let x = ;');
  const run = await startRun(() => page.keyboard.press('Control+Enter'), 'error');
  const exc = run.locator('.ev-exception');
  assert.match(await exc.textContent(), /SyntaxError/);
  assert.ok((await exc.locator('.exc-message').textContent()).length > 'SyntaxError'.length);
});

test('while(true){} runs until Cancel, then ends cancelled', async () => {
  await setCode('while (true) {}');
  const run = await startRun(() => page.keyboard.press('Control+Enter'));
  await page.getByTestId('cancel').waitFor();
  await run.locator('.ev-input_echo').waitFor();
  await page.waitForTimeout(300);
  assert.equal(await run.getAttribute('data-status'), 'running');
  await page.getByTestId('cancel').click();
  await run.and(page.locator('[data-status=cancelled]')).waitFor();
  await page.getByTestId('history-row').first().and(page.locator('[data-status=cancelled]')).waitFor();
  assert.equal(await page.getByTestId('run').isEnabled(), true);
});

test('a reload opens the same execution and finds the history', async () => {
  const url = page.url();
  await page.reload();
  assert.equal(page.url(), url);
  const rows = page.getByTestId('history-row');
  await rows.first().waitFor();
  const statuses = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.status));
  assert.deepEqual(statuses.slice(0, 4), ['cancelled', 'error', 'error', 'ok']);
  assert.equal(statuses.at(-1), 'ok', 'the startup execution');
  await lastRun().and(page.locator('[data-status=cancelled]')).waitFor();

  // Any past execution's events, from its row.
  await rows.nth(3).getByRole('link').click();
  await lastRun().locator('.ev-console', { hasText: 'second line' }).waitFor();
  assert.match(page.url(), /\/executions\//);
  // A shared link opens the same page in a fresh tab.
  const other = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await other.goto(page.url());
  await other.locator('[data-testid=execution] .ev-value').waitFor({ timeout: TIMEOUT });
  await other.close();
});

test('a stream that drops resumes after the last seq: no event lost or repeated', async () => {
  const requests = [];
  const isStream = (url) => url.pathname.endsWith('/events/stream');
  await page.route(isStream, async (route) => {
    const url = new URL(route.request().url());
    requests.push(url.searchParams.get('after_seq'));
    const full = await route.fetch();
    const text = await full.text();
    const blocks = text.split('\n\n').filter((b) => b.includes('data:'));
    if (requests.length === 1) {
      // First connection: three events, then the connection "drops" (no end event).
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `${blocks.slice(0, 3).join('\n\n')}\n\n` });
    } else {
      // Second connection: the server sent seq 2 and 3 again; the console must skip them.
      const again = await route.fetch({ url: url.toString().replace(/after_seq=\d+/, 'after_seq=1') });
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: await again.text() });
    }
  });
  await setCode("for (let i = 1; i <= 6; i++) console.log('line ' + i);\n'done'");
  const run = await startRun(() => page.getByTestId('run').click(), 'ok');
  await page.unroute(isStream);
  const seqs = await run.locator('.ev').evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
  assert.equal(seqs.length, 8, 'input echo, six lines, the value');
  assert.deepEqual(requests.slice(0, 2), ['0', '3']);
});

test('a daemon that goes away shows a banner; the page recovers when it returns', async () => {
  const port = new URL(base).port;
  await stopDaemon(daemon);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
  const banner = page.getByTestId('daemon-banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /not reachable/);
  daemon = await startDaemon(Number(port));
  await banner.waitFor({ state: 'hidden' });
  // The sessions list is back, with the session the shutdown closed and its last error.
  const row = page.locator(`[data-testid=session-row][data-id="${state.sessionId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'closed');
  assert.notEqual((await row.locator('.last-error').textContent()).trim(), '—');
});

test('API errors show their code and message', async () => {
  await page.goto(`${base}/sessions/00000000-0000-4000-8000-000000000000`);
  const err = page.getByTestId('api-error');
  await err.waitFor();
  assert.match(await err.textContent(), /SESSION_NOT_FOUND/);
  await page.goto(`${base}/templates/not-a-uuid`);
  await page.getByTestId('api-error').filter({ hasText: 'VALIDATION_ERROR' }).waitFor();
});

test('with a token, the page asks for it once and keeps it for the tab', async () => {
  const port = await freePort();
  state.tokenDaemon = await startDaemon(port, ['--token', 's3cret'], join(TMP, 'token.db'));
  const tab = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await tab.goto(`${state.tokenDaemon.url}/templates`);
  await tab.getByTestId('token-input').fill('wrong');
  await tab.getByRole('button', { name: 'Continue' }).click();
  // A wrong token is refused with the API's code, and asked again.
  await tab.locator('dialog').getByText('UNAUTHORIZED').waitFor({ timeout: TIMEOUT });
  await tab.getByTestId('token-input').fill('s3cret');
  await tab.getByRole('button', { name: 'Continue' }).click();
  await tab.getByRole('heading', { name: 'Templates', level: 1 }).waitFor({ timeout: TIMEOUT });
  await tab.reload();
  await tab.getByRole('heading', { name: 'Templates', level: 1 }).waitFor({ timeout: TIMEOUT });
  assert.equal(await tab.locator('dialog').count(), 0);
  await tab.close();
});

test('usable at 390×844 and keyboard reachable', async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${base}/templates/${state.templateId}`);
  await phone.getByTestId('settings-form').waitFor({ timeout: TIMEOUT });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page wider than the screen by ${overflow}px`);
  // A new session and a run, from the keyboard only.
  await phone.goto(`${base}/sessions?template=${state.templateId}`);
  await phone.getByTestId('session-worktree').fill(WORKTREE);
  await phone.getByTestId('session-worktree').press('Enter');
  await phone.waitForURL(/\/sessions\/[0-9a-f-]{36}$/, { timeout: TIMEOUT });
  await phone.locator('.cm-content').focus();
  await phone.keyboard.press('Control+A');
  await phone.keyboard.insertText("console.log('from a phone'); 6 * 7");
  await phone.keyboard.press('Tab');
  assert.equal(await phone.evaluate(() => document.activeElement.closest('.cm-editor')), null, 'Tab leaves the editor');
  await phone.locator('.cm-content').focus();
  await phone.keyboard.press('Control+Enter');
  await phone.locator('[data-testid=execution][data-status=ok] .ev-value', { hasText: '42' }).waitFor({ timeout: TIMEOUT });
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 0, `console wider than the screen by ${wide}px`);
  await phone.screenshot({ path: join(SHOTS, 'console-mobile.png'), fullPage: true });
  await phone.close();
});

test('the system page shows health, live sessions and the catalogs', async () => {
  await page.goto(`${base}/system`);
  await page.getByTestId('active-sessions').filter({ hasText: '1 live session' }).waitFor();
  await page.getByRole('cell', { name: 'database', exact: true }).waitFor();
  await page.getByText('lodash-4.17.21').waitFor();
});

test('no script errors, nothing loaded from another host', () => {
  assert.deepEqual(state.pageErrors, []);
  assert.deepEqual(state.foreign, []);
});
