import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VmSystem, ERROR_CODES, tempDir, throwsCode, rejectsCode, setup, sleep, busy } from './helpers.mjs'

test('ERROR_CODES lists the SPEC codes in their stable order', () => {
  assert.deepEqual(ERROR_CODES, [
    'VALIDATION_ERROR',
    'TEMPLATE_NOT_FOUND',
    'SESSION_NOT_FOUND',
    'EXECUTION_NOT_FOUND',
    'FILE_NOT_FOUND',
    'SESSION_NOT_READY',
    'SESSION_BUSY',
    'INVALID_PATH',
    'OUTPUT_LIMIT_EXCEEDED',
    'STARTUP_MODE_UNSUPPORTED',
    'MODULE_NOT_ALLOWED',
    'STARTUP_FAILED',
    'INTERNAL',
    'NO_CAPACITY',
    'STORE_UNAVAILABLE',
  ])
})

test('every reachable code, thrown by the sync forms', () => {
  const { vm, template, session } = setup({ 'ok.js': '1' }, (vm, t) =>
    vm.updateSettings(t.id, { limits: { max_events: 3 } }),
  )
  throwsCode(() => vm.createTemplate('x', 'spidermonkey'), 'VALIDATION_ERROR')
  throwsCode(() => vm.getTemplate('nope'), 'TEMPLATE_NOT_FOUND')
  throwsCode(() => vm.replSync('nope', '1'), 'SESSION_NOT_FOUND')
  throwsCode(() => vm.events('nope'), 'EXECUTION_NOT_FOUND')
  throwsCode(() => vm.runFileSync(session.id, 'missing.js'), 'FILE_NOT_FOUND')
  throwsCode(() => vm.runFileSync(session.id, '../ok.js'), 'INVALID_PATH')
  throwsCode(() => vm.addStartupFile(template.id, 'a.js', 0, 'wasm'), 'STARTUP_MODE_UNSUPPORTED')
  throwsCode(() => vm.addModule(template.id, 'math'), 'MODULE_NOT_ALLOWED')
  const limit = throwsCode(() => vm.replSync(session.id, 'for (;;) console.log(1)'), 'OUTPUT_LIMIT_EXCEEDED')
  assert.equal(vm.getExecution(limit.executionId).status, 'error')
  assert.equal(limit.sessionId, undefined)

  vm.addStartupFile(template.id, 'boom.js')
  const startup = throwsCode(
    () => vm.createSessionSync(template.id, 'ws', 'abc', tempDir({ 'boom.js': 'null.x' })),
    'STARTUP_FAILED',
  )
  assert.equal(vm.getSession(startup.sessionId).status, 'crashed')
  assert.equal(startup.executionId, undefined)

  vm.closeSession(session.id)
  const notReady = throwsCode(() => vm.replSync(session.id, '1'), 'SESSION_NOT_READY')
  assert.equal(notReady.sessionId, session.id)
})

test('the Promise forms reject with the same errors', async () => {
  const { vm, session } = setup({}, (vm, t) => vm.updateSettings(t.id, { limits: { max_events: 2 } }))
  await rejectsCode(vm.repl('nope', '1'), 'SESSION_NOT_FOUND')
  await rejectsCode(vm.runFile(session.id, '/abs.js'), 'INVALID_PATH')
  await rejectsCode(vm.runFile(session.id, 'none.js'), 'FILE_NOT_FOUND')
  await rejectsCode(vm.runFile(session.id, 'none.js', { args: [1] }), 'VALIDATION_ERROR')
  await rejectsCode(vm.createSession('nope', 'ws', 'abc', tempDir()), 'TEMPLATE_NOT_FOUND')
  const limit = await rejectsCode(vm.repl(session.id, 'console.log(1); console.log(2)'), 'OUTPUT_LIMIT_EXCEEDED')
  assert.match(limit.executionId, /^[0-9a-f-]{36}$/)
  const hold = vm.repl(session.id, busy(200))
  while (vm.runningExecution(session.id) === null) await sleep(2)
  const busyError = await rejectsCode(vm.repl(session.id, '1'), 'SESSION_BUSY')
  assert.equal(busyError.sessionId, session.id)
  await hold
  vm.closeSession(session.id)
  await rejectsCode(vm.repl(session.id, '1'), 'SESSION_NOT_READY')
})

test('errors are Error instances with a message saying what to do', () => {
  const vm = new VmSystem()
  const error = throwsCode(() => vm.getSession('abc'), 'SESSION_NOT_FOUND')
  assert.ok(error instanceof Error)
  assert.match(error.message, /list_sessions|listSessions/)
  assert.ok(error.stack.includes('errors.test.mjs'))
})

test('arguments napi cannot convert are VALIDATION_ERROR too', async () => {
  const vm = new VmSystem()
  throwsCode(() => vm.createTemplate(), 'VALIDATION_ERROR')
  throwsCode(() => vm.createTemplate(42), 'VALIDATION_ERROR')
  throwsCode(() => vm.addStartupFile('t', 'a.js', 'first'), 'VALIDATION_ERROR')
  throwsCode(() => new VmSystem(7), 'VALIDATION_ERROR')
  await rejectsCode(vm.repl(undefined, '1'), 'VALIDATION_ERROR')
  await rejectsCode(vm.repl('s', '1', { onEvent: 'not a function' }), 'VALIDATION_ERROR')
  await rejectsCode(vm.createSession(1, 2, 3, 4), 'VALIDATION_ERROR')
  assert.ok(new VmSystem() instanceof VmSystem)
})
