import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { VmSystem, tempDir, throwsCode, rejectsCode, setup } from './helpers.mjs'

test('createSession (Promise) runs the startup files and returns a ready session', async () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('s')
  vm.addStartupFile(t.id, 'b.js', 2)
  vm.addStartupFile(t.id, 'a.js', 1)
  const worktree = tempDir({ 'a.js': 'var order = ["a"]', 'b.js': 'order.push("b")' })
  const session = await vm.createSession(t.id, 'ws-1', 'deadbeef', worktree)
  assert.equal(session.status, 'ready')
  assert.equal(session.templateId, t.id)
  assert.equal(session.workspaceId, 'ws-1')
  assert.equal(session.baseCommitOid, 'deadbeef')
  assert.equal(session.worktreePath, worktree)
  assert.equal(session.closedAt, null)
  assert.equal(session.lastError, null)
  // The owner instance: a UUID, the same for every session of this VmSystem.
  assert.match(session.daemonId, /^[0-9a-f-]{36}$/)
  const startup = vm.listExecutions(session.id).reverse()
  assert.deepEqual(startup.map((e) => [e.kind, e.path, e.status]), [
    ['startup', 'a.js', 'ok'],
    ['startup', 'b.js', 'ok'],
  ])
  assert.deepEqual(vm.replSync(session.id, 'order').result.json, ['a', 'b'])
  vm.close()
})

test('createSessionSync, getSession, listSessions, closeSession, runtimeSummary', () => {
  const { vm, template, worktree, session } = setup()
  assert.deepEqual(vm.getSession(session.id), session)
  const other = vm.createSessionSync(template.id, 'ws', 'abc', worktree)
  assert.deepEqual(vm.runtimeSummary(), {
    activeSessions: 2,
    activeSessionIds: [session.id, other.id].sort(),
  })
  const closed = vm.closeSession(other.id)
  assert.equal(closed.status, 'closed')
  assert.ok(closed.closedAt)
  assert.deepEqual(vm.closeSession(other.id), closed, 'closing twice returns it as is')
  assert.deepEqual(vm.listSessions().map((s) => s.id), [session.id, other.id])
  assert.deepEqual(vm.listSessions('ready').map((s) => s.id), [session.id])
  assert.deepEqual(vm.listSessions('closed').map((s) => s.id), [other.id])
  assert.deepEqual(vm.listSessions('crashed'), [])
  throwsCode(() => vm.listSessions('sleeping'), 'VALIDATION_ERROR')
  assert.deepEqual(vm.runtimeSummary().activeSessionIds, [session.id])
  throwsCode(() => vm.replSync(other.id, '1'), 'SESSION_NOT_READY')
  throwsCode(() => vm.getSession('missing'), 'SESSION_NOT_FOUND')
  throwsCode(() => vm.closeSession('missing'), 'SESSION_NOT_FOUND')
  vm.close()
  assert.equal(vm.runtimeSummary().activeSessions, 0)
})

test('close() closes the live sessions and ends the handle', () => {
  const file = path.join(tempDir(), 'close.db')
  const vm = new VmSystem(file)
  const t = vm.createTemplate('c')
  const session = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
  assert.equal(vm.closed, false)
  vm.close()
  assert.equal(vm.closed, true)
  vm.close() // closing again does nothing
  assert.deepEqual(vm.runtimeSummary(), { activeSessions: 0, activeSessionIds: [] })
  const error = throwsCode(() => vm.getSession(session.id), 'VALIDATION_ERROR')
  assert.match(error.message, /closed; open a new one/)
  const other = new VmSystem(file)
  assert.equal(other.getSession(session.id).status, 'closed', 'close() closed the live session')
  other.close()
})

test('session arguments are validated', async () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('v')
  const dir = tempDir()
  throwsCode(() => vm.createSessionSync(t.id, '', 'abc', dir), 'VALIDATION_ERROR')
  throwsCode(() => vm.createSessionSync(t.id, 'ws', 'abc', 'relative/dir'), 'VALIDATION_ERROR')
  throwsCode(() => vm.createSessionSync(t.id, 'ws', 'abc', `${dir}/missing`), 'VALIDATION_ERROR')
  throwsCode(() => vm.createSessionSync('missing', 'ws', 'abc', dir), 'TEMPLATE_NOT_FOUND')
  await rejectsCode(vm.createSession('missing', 'ws', 'abc', dir), 'TEMPLATE_NOT_FOUND')
  await rejectsCode(vm.createSession(t.id, 'ws', 'abc', 'relative'), 'VALIDATION_ERROR')
})

test('a failing startup file crashes the session', async () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('crash')
  vm.addStartupFile(t.id, 'boom.js')
  const dir = tempDir({ 'boom.js': 'throw new Error("no luck")' })
  const error = await rejectsCode(vm.createSession(t.id, 'ws', 'abc', dir), 'STARTUP_FAILED')
  assert.match(error.message, /boom\.js/)
  const crashed = vm.getSession(error.sessionId)
  assert.equal(crashed.status, 'crashed')
  assert.match(crashed.lastError, /no luck/)
  await rejectsCode(vm.repl(error.sessionId, '1'), 'SESSION_NOT_READY')
  assert.deepEqual(vm.closeSession(error.sessionId), crashed)

  const sync = throwsCode(() => vm.createSessionSync(t.id, 'ws', 'abc', dir), 'STARTUP_FAILED')
  assert.equal(vm.getSession(sync.sessionId).status, 'crashed')

  const missing = vm.createTemplate('missing')
  vm.addStartupFile(missing.id, 'nope.js')
  const notFound = await rejectsCode(vm.createSession(missing.id, 'ws', 'abc', dir), 'FILE_NOT_FOUND')
  assert.equal(vm.getSession(notFound.sessionId).status, 'crashed')
})

test('a library missing from the cache crashes the session with a hint', async () => {
  const vm = new VmSystem(undefined, { libraryCache: tempDir() })
  const t = vm.createTemplate('lib')
  vm.addLibrary(t.id, 'lodash-4.17.21')
  const error = await rejectsCode(vm.createSession(t.id, 'ws', 'abc', tempDir()), 'STARTUP_FAILED')
  assert.match(vm.getSession(error.sessionId).lastError, /install/i)
})
