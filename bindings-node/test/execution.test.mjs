import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VmSystem, tempDir, throwsCode, rejectsCode, setup, sleep, busy } from './helpers.mjs'

test('replSync and repl record executions with results', async () => {
  const { vm, session } = setup()
  const first = vm.replSync(session.id, 'let n = 40; n + 1')
  assert.equal(first.status, 'ok')
  assert.equal(first.kind, 'repl')
  assert.equal(first.input, 'let n = 40; n + 1')
  assert.equal(first.path, null)
  assert.deepEqual(first.result, { type: 'number', preview: '41', json: 41 })
  assert.deepEqual(first.args, {})
  assert.deepEqual(first.env, {})
  assert.equal(first.error, null)
  assert.ok(first.endedAt)
  assert.equal(first.metrics.eventCount, 2)
  assert.ok(first.metrics.durationMs >= 0 && first.metrics.cpuMs >= 0 && first.metrics.outputBytes > 0)
  assert.equal(first.metrics.limit, null)
  const second = await vm.repl(session.id, 'n + 2')
  assert.equal(second.result.json, 42)
  assert.deepEqual(vm.getExecution(second.id), second)
  assert.deepEqual(vm.listExecutions(session.id).map((e) => e.id), [second.id, first.id])
  assert.deepEqual(vm.listExecutions(session.id, 1).map((e) => e.id), [second.id])
  throwsCode(() => vm.listExecutions(session.id, 0), 'VALIDATION_ERROR')
  throwsCode(() => vm.listExecutions(session.id, -3), 'VALIDATION_ERROR')
  const failed = await vm.repl(session.id, 'undefinedThing')
  assert.equal(failed.status, 'error')
  assert.equal(failed.error, 'ReferenceError: undefinedThing is not defined')
  assert.equal(failed.result, null)
  throwsCode(() => vm.getExecution('missing'), 'EXECUTION_NOT_FOUND')
  vm.close()
})

test('NUL characters are JavaScript', async () => {
  const { vm, session } = setup()
  const input = "'a\u0000b'.length + /x\u0000/.source.length"
  const exec = await vm.repl(session.id, input)
  assert.equal(exec.status, 'ok')
  assert.equal(exec.result.json, 5)
  assert.equal(exec.input, input)
  vm.close()
})

test('events and afterSeq', () => {
  const { vm, session } = setup()
  const exec = vm.replSync(session.id, 'console.log("a", 1, {b: 2}); console.warn("w"); [1, 2]')
  const events = vm.events(exec.id)
  assert.deepEqual(events.map((e) => [e.seq, e.type]), [
    [1, 'input_echo'],
    [2, 'console'],
    [3, 'console'],
    [4, 'value'],
  ])
  assert.equal(events[0].executionId, exec.id)
  assert.ok(events[0].ts)
  assert.deepEqual(events[1].payload, { level: 'log', text: 'a 1 {"b":2}' })
  assert.deepEqual(events[2].payload, { level: 'warn', text: 'w' })
  assert.deepEqual(events[3].payload, { type: 'array', preview: '[1,2]', json: [1, 2] })
  assert.deepEqual(vm.events(exec.id, 2).map((e) => e.seq), [3, 4])
  assert.deepEqual(vm.events(exec.id, 4), [])
  throwsCode(() => vm.events(exec.id, -1), 'VALIDATION_ERROR')
  throwsCode(() => vm.events('missing'), 'EXECUTION_NOT_FOUND')
  vm.close()
})

test('runFile and runFileSync pass args and env', async () => {
  const { vm, session } = setup({
    'job.js': 'console.log(__ENV__.MODE); ({ sum: __ARGS__.a + __ARGS__.b, mode: __ENV__.MODE })',
    'lib/plain.js': '"plain"',
  })
  const exec = await vm.runFile(session.id, 'job.js', { args: { a: 1, b: 2 }, env: { MODE: 'fast' } })
  assert.equal(exec.status, 'ok')
  assert.equal(exec.kind, 'run_file')
  assert.equal(exec.path, 'job.js')
  assert.deepEqual(exec.args, { a: 1, b: 2 })
  assert.deepEqual(exec.env, { MODE: 'fast' })
  assert.deepEqual(exec.result.json, { sum: 3, mode: 'fast' })
  assert.deepEqual(vm.events(exec.id)[0].payload, { path: 'job.js' })
  const sync = vm.runFileSync(session.id, 'job.js', { args: { a: 2, b: 2 }, env: { MODE: 'slow' } })
  assert.deepEqual(sync.result.json, { sum: 4, mode: 'slow' })
  assert.equal((await vm.runFile(session.id, 'lib/plain.js')).result.json, 'plain')
  assert.equal(vm.runFileSync(session.id, 'lib/plain.js').result.json, 'plain')
  throwsCode(() => vm.runFileSync(session.id, 'job.js', { env: { N: 1 } }), 'VALIDATION_ERROR')
  await rejectsCode(vm.runFile(session.id, '../x.js'), 'INVALID_PATH')
  await rejectsCode(vm.runFile(session.id, 'nope.js'), 'FILE_NOT_FOUND')
  throwsCode(() => vm.runFileSync(session.id, '/etc/hostname'), 'INVALID_PATH')
  vm.close()
})

test('the event loop keeps running while a Promise form runs', async () => {
  const { vm, session } = setup()
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = Date.now()
  const exec = await vm.repl(session.id, busy(300))
  clearInterval(timer)
  assert.equal(exec.result.json, 'done')
  assert.ok(Date.now() - started >= 290)
  assert.ok(ticks >= 10, `only ${ticks} ticks during a 300 ms script`)
  vm.close()
})

test('concurrent Promises on one session: the second is SESSION_BUSY', async () => {
  const { vm, session } = setup()
  const first = vm.repl(session.id, busy(300))
  while (vm.runningExecution(session.id) === null) await sleep(2)
  const running = vm.runningExecution(session.id)
  assert.equal(vm.getExecution(running).status, 'running') // also commits its record now
  const before = vm.listExecutions(session.id).length
  const error = await rejectsCode(vm.repl(session.id, '1'), 'SESSION_BUSY')
  assert.equal(error.sessionId, session.id)
  throwsCode(() => vm.replSync(session.id, '1'), 'SESSION_BUSY')
  await rejectsCode(vm.runFile(session.id, 'x.js'), 'FILE_NOT_FOUND')
  assert.equal(vm.listExecutions(session.id).length, before, 'refused calls create no record')
  const done = await first
  assert.equal(done.id, running)
  assert.equal(done.status, 'ok')
  assert.equal(vm.runningExecution(session.id), null)
  vm.close()
})

test('different sessions run in parallel', async () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('p')
  const dir = tempDir()
  const a = await vm.createSession(t.id, 'ws', 'abc', dir)
  const b = await vm.createSession(t.id, 'ws', 'abc', dir)
  const started = Date.now()
  const [x, y] = await Promise.all([vm.repl(a.id, busy(400, '"a"')), vm.repl(b.id, busy(400, '"b"'))])
  const elapsed = Date.now() - started
  assert.deepEqual([x.result.json, y.result.json], ['a', 'b'])
  assert.ok(elapsed < 750, `two 400 ms scripts took ${elapsed} ms`)
  vm.close()
})

test('cancelExecution stops a running execution', async () => {
  const { vm, session } = setup()
  const pending = vm.repl(session.id, 'while (true) {}')
  let id = null
  while ((id = vm.runningExecution(session.id)) === null) await sleep(2)
  // The record becomes readable at the core's first flush (within ~20 ms).
  while (!vm.listExecutions(session.id).some((e) => e.id === id)) await sleep(2)
  assert.equal(vm.getExecution(id).status, 'running')
  vm.cancelExecution(id)
  const exec = await pending
  assert.equal(exec.status, 'cancelled')
  vm.cancelExecution(id)
  assert.equal(vm.getExecution(id).status, 'cancelled', 'cancelling an ended execution leaves it')
  throwsCode(() => vm.cancelExecution('missing'), 'EXECUTION_NOT_FOUND')
  assert.equal(vm.replSync(session.id, '"still usable"').result.json, 'still usable')
  vm.close()
})

test('closeSession interrupts a running execution', async () => {
  const { vm, session } = setup()
  const pending = vm.repl(session.id, 'while (true) {}')
  while (vm.runningExecution(session.id) === null) await sleep(2)
  assert.equal(vm.closeSession(session.id).status, 'closed')
  assert.equal((await pending).status, 'cancelled')
  vm.close()
})

test('limits: cpu_ms timeout, output limit', async () => {
  const { vm, session } = setup({}, (vm, t) =>
    vm.updateSettings(t.id, { limits: { cpu_ms: 100, max_events: 5 } }),
  )
  const slow = await vm.repl(session.id, 'while (true) {}')
  assert.equal(slow.status, 'timeout')
  assert.equal(slow.metrics.limit, 'cpu_ms')
  assert.equal(vm.events(slow.id).at(-1).type, 'system')
  const error = await rejectsCode(vm.repl(session.id, 'for (let i = 0; i < 100; i++) console.log(i)'), 'OUTPUT_LIMIT_EXCEEDED')
  const stopped = vm.getExecution(error.executionId)
  assert.equal(stopped.status, 'error')
  assert.equal(vm.events(stopped.id).length, 6, 'max_events stored plus the system note')
  vm.close()
})
