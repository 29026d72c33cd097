// The library inside a real Node host: process exit and worker termination, throwing
// watchers, many open/close rounds, argument errors (closing while code runs:
// close.test.mjs). Whatever can hang or crash runs in a child process with a timeout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { VmSystem, tempDir, throwsCode, rejectsCode, setup, runChild } from './helpers.mjs'

/** Asserts a child ended on its own, as expected, and returns its reports. */
function ended(result, code = 0) {
  const detail = `code ${result.code} signal ${result.signal} after ${result.ms} ms\n${result.stderr}`
  assert.equal(result.timedOut, false, `the child hung: ${detail}`)
  assert.equal(result.code, code, detail)
  return result.reports
}

const FOREVER = `
import path from 'node:path'
const file = process.env.VMS_DB ?? path.join(tempDir(), 'exit.db')
const vm = new VmSystem(file)
const t = vm.createTemplate('forever')
vm.updateSettings(t.id, { limits: { cpu_ms: 60000, wall_ms: 60000 } })
const s = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
const pending = vm.repl(s.id, 'while (true) {}')
while (vm.runningExecution(s.id) === null) await new Promise((r) => setTimeout(r, 2))
`

test('process.exit() while a repl Promise runs while(true) exits at once and records it cancelled', async () => {
  const file = path.join(tempDir(), 'exit.db')
  const result = await runChild(
    `process.env.VMS_DB = ${JSON.stringify(file)}
${FOREVER}
report({ execution: vm.runningExecution(s.id) })
process.exit(7)
`,
    { timeoutMs: 15000 },
  )
  const [r] = ended(result, 7)
  assert.ok(result.ms < 5000, `exit took ${result.ms} ms`)
  const vm = new VmSystem(file)
  const exec = vm.getExecution(r.execution)
  assert.equal(exec.status, 'cancelled')
  assert.ok(exec.metrics.durationMs < 5000, JSON.stringify(exec.metrics))
  vm.close()
})

test('worker.terminate() on a worker running while(true) returns and records it cancelled', async () => {
  const file = path.join(tempDir(), 'worker.db')
  const reports = ended(
    await runChild(
      `
import { Worker } from 'node:worker_threads'
const source = ${JSON.stringify(`process.env.VMS_DB = ${JSON.stringify(file)}\n${FOREVER}\nrequire('node:worker_threads').parentPort.postMessage(vm.runningExecution(s.id))`)}
// The worker runs the same code as an ES module from a data: URL of its own helpers import.
const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(
  'import { createRequire } from "node:module"; const require = createRequire(' + JSON.stringify(import.meta.url) + ');\\n' +
  'import * as helpers from ' + JSON.stringify(${JSON.stringify(new URL('./helpers.mjs', import.meta.url).href)}) + ';\\n' +
  'const { VmSystem, tempDir } = helpers;\\n' + source)))
const execution = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
const start = Date.now()
await worker.terminate()
const terminateMs = Date.now() - start
const vm = new VmSystem(${JSON.stringify(file)})
const exec = vm.getExecution(execution)
report({ terminateMs, status: exec.status, durationMs: exec.metrics.durationMs })
vm.close()
`,
      { timeoutMs: 20000 },
    ),
  )
  const [r] = reports
  assert.ok(r.terminateMs < 1000, `terminate took ${r.terminateMs} ms`)
  assert.equal(r.status, 'cancelled')
})

test('an onEvent that throws a non-Error never kills the process; each throw is recorded', async () => {
  const reports = ended(
    await runChild(`
const vm = new VmSystem()
const t = vm.createTemplate('throws')
const s = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
const throwers = {
  symbol: () => { throw Symbol('x') },
  undefined: () => { throw undefined },
  badToString: () => { throw { toString() { throw new Error('no text') } } },
  proxy: () => { throw new Proxy({}, { get() { throw new Error('trap') } }) },
  error: () => { throw new TypeError('plain') },
}
const out = {}
for (const [name, onEvent] of Object.entries(throwers)) {
  const exec = await vm.repl(s.id, "console.log('one'); " + busy(100, '') + " console.log('two'); 'done'", { onEvent })
  const system = vm.events(exec.id).filter((e) => e.type === 'system').map((e) => e.payload.message)
  out[name] = { status: exec.status, result: exec.result && exec.result.json, system }
}
report(out)
`),
  )
  const [r] = reports
  const expected = {
    symbol: /onEvent callback threw: Symbol\(x\)/,
    undefined: /onEvent callback threw: undefined/,
    badToString: /onEvent callback threw: a thrown object that cannot be shown as text/,
    proxy: /onEvent callback threw: .*cannot be shown as text|onEvent callback threw: \[object Object\]/,
    error: /onEvent callback threw: TypeError: plain/,
  }
  for (const [name, pattern] of Object.entries(expected)) {
    assert.equal(r[name].status, 'ok', name)
    assert.equal(r[name].result, 'done', name)
    assert.equal(r[name].system.length, 1, `${name}: ${JSON.stringify(r[name].system)}`)
    assert.match(r[name].system[0], pattern, name)
  }
})

test('close() releases the database: 1,000 open/close rounds under 1,024 descriptors', async () => {
  const reports = ended(
    await runChild(
      `
import fs from 'node:fs'
import path from 'node:path'
const dir = tempDir()
const threads = () => fs.readdirSync('/proc/self/task').length
const fds = () => fs.readdirSync('/proc/self/fd').length
const before = { threads: threads(), fds: fds() }
for (let i = 0; i < 1000; i++) {
  const vm = new VmSystem(path.join(dir, 'rounds.db'))
  if (i === 0) vm.createTemplate('first')
  vm.close()
}
const after = { threads: threads(), fds: fds() }
const vm = new VmSystem(path.join(dir, 'rounds.db'))
report({ before, after, templates: vm.listTemplates().length })
vm.close()
`,
      { ulimit: 1024, timeoutMs: 120000 },
    ),
  )
  const [r] = reports
  assert.equal(r.templates, 1)
  assert.ok(r.after.fds <= r.before.fds + 2, `descriptors ${r.before.fds} → ${r.after.fds}`)
  assert.ok(r.after.threads <= r.before.threads + 1, `threads ${r.before.threads} → ${r.after.threads}`)
})

test('errors name the argument and what was expected', async () => {
  const { vm, session } = setup()
  const cases = [
    [() => vm.getSession(1), /^sessionId must be a string, got number 1$/],
    [() => vm.replSync(session.id, 1), /^input must be a string, got number 1$/],
    [() => vm.listExecutions(session.id, '5'), /^limit must be an integer, got string "5"$/],
    [() => vm.listExecutions(session.id, 1.5), /^limit must be an integer, got number 1.5$/],
    [() => vm.events(undefined), /^executionId must be a string, got undefined$/],
    [() => vm.createTemplate('t', 7), /^engine must be a string, got number 7$/],
    [() => vm.addCapability('t', 'fs', 'x', 'yes'), /^enabled must be a boolean, got string "yes"$/],
    [() => vm.runFileSync(session.id, 'a.js', 3), /^options must be an object, got number 3$/],
    [() => vm.runFileSync(session.id, 'a.js', { args: () => 1 }), /^options.args must be a JSON value, got a function$/],
    [() => new VmSystem(undefined, { libraryCache: 5 }), /^options.libraryCache must be a string, got number 5$/],
    [() => new VmSystem(Symbol('db')), /^path must be a string, got a symbol$/],
  ]
  for (const [call, message] of cases) {
    const error = throwsCode(call, 'VALIDATION_ERROR')
    assert.match(error.message, message)
  }
  const rejected = await rejectsCode(vm.repl(session.id, '1', { onEvent: 1 }), 'VALIDATION_ERROR')
  assert.match(rejected.message, /^options.onEvent must be a function, got number 1$/)
  const sessionArgs = await rejectsCode(vm.createSession('t', 'ws', null, '/tmp'), 'VALIDATION_ERROR')
  assert.match(sessionArgs.message, /^baseCommitOid must be a string, got null$/)
  assert.equal(vm.listExecutions(session.id).length, 0, 'nothing ran')
  vm.close()
})

test("an options getter's exception reaches the caller untouched", async () => {
  const { vm, session } = setup({ 'a.js': '1' })
  const mine = new Error('mine')
  const throwing = (key) => ({
    get [key]() {
      throw mine
    },
  })
  const caught = []
  for (const call of [
    () => vm.runFileSync(session.id, 'a.js', throwing('args')),
    () => vm.runFileSync(session.id, 'a.js', throwing('env')),
    () => new VmSystem(undefined, throwing('libraryCache')),
  ]) {
    assert.throws(call, (e) => (caught.push(e), e === mine))
  }
  await assert.rejects(vm.repl(session.id, '1', throwing('onEvent')), (e) => e === mine)
  await assert.rejects(vm.runFile(session.id, 'a.js', throwing('onEvent')), (e) => e === mine)
  const symbol = Symbol('mine')
  assert.throws(() => vm.runFileSync(session.id, 'a.js', { get args() { throw symbol } }), (e) => e === symbol)
  assert.equal(Object.hasOwn(mine, 'code'), false, `code was written: ${mine.code}`)
  assert.deepEqual(Object.keys(mine), [])
  assert.equal(vm.listExecutions(session.id).length, 0)
  vm.close()
})
