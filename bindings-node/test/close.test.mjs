// Closing while code runs, from onEvent and from the main thread: the close stops the run
// (it ends `cancelled`) and returns promptly; a session still running its startup files is
// closed too. Each case runs in a child process with a timeout (a deadlock would hang).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runChild } from './helpers.mjs'


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

test('closeSession from onEvent stops the run; calls from a watcher return promptly', async () => {
  const reports = ended(
    await runChild(`
const vm = new VmSystem()
const t = vm.createTemplate('w')
vm.updateSettings(t.id, { limits: { cpu_ms: 60000, wall_ms: 60000, mem_mb: 1024 } })
const s = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
let ticks = 0
const timer = setInterval(() => ticks++, 5)
const calls = {}
const timed = (name, fn) => {
  const start = process.hrtime.bigint()
  let result
  try { result = fn() } catch (e) { result = e.code }
  calls[name] = { ms: Number(process.hrtime.bigint() - start) / 1e6, result }
}
const started = Date.now()
const exec = await vm.repl(s.id, "console.log('a'); console.log('b'); while (true) {}", {
  onEvent: (e) => {
    if (e.type !== 'console' || e.payload.text !== 'a') return
    const id = e.executionId
    timed('runningExecution', () => vm.runningExecution(s.id) === id)
    timed('events', () => vm.events(id).length >= 2)
    timed('getExecution', () => vm.getExecution(id).status)
    timed('listExecutions', () => vm.listExecutions(s.id).length)
    timed('replSync same session', () => vm.replSync(s.id, '1'))
    timed('closeSession', () => vm.closeSession(s.id).status)
  },
})
clearInterval(timer)
report({ status: exec.status, error: exec.error, ms: Date.now() - started, ticks, calls,
  summary: vm.runtimeSummary(), session: vm.getSession(s.id).status })
`),
  )
  const [r] = reports
  assert.equal(r.status, 'cancelled', JSON.stringify(r))
  assert.ok(r.ms < 30000, `the run ended ${r.ms} ms after it started`)
  assert.equal(r.session, 'closed')
  assert.equal(r.summary.activeSessions, 0)
  assert.equal(r.calls.runningExecution.result, true)
  assert.equal(r.calls.events.result, true)
  assert.equal(r.calls.getExecution.result, 'running')
  assert.equal(r.calls.listExecutions.result, 1)
  assert.equal(r.calls['replSync same session'].result, 'SESSION_BUSY')
  assert.equal(r.calls.closeSession.result, 'closed')
  for (const [name, call] of Object.entries(r.calls)) {
    assert.ok(call.ms < 250, `${name} from onEvent took ${call.ms} ms`)
  }
})

test('close() and closeSession() on the main thread stop running executions promptly', async () => {
  const reports = ended(
    await runChild(`
const vm = new VmSystem()
const t = vm.createTemplate('w')
vm.updateSettings(t.id, { limits: { cpu_ms: 60000, wall_ms: 60000, mem_mb: 1024 } })
const a = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
const b = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
const runA = vm.repl(a.id, 'while (true) {}')
const runB = vm.repl(b.id, 'while (true) {}')
while (vm.runningExecution(a.id) === null || vm.runningExecution(b.id) === null) await sleep(2)
await sleep(50)
let start = process.hrtime.bigint()
vm.closeSession(a.id)
const closeSessionMs = Number(process.hrtime.bigint() - start) / 1e6
const execA = await runA
start = process.hrtime.bigint()
vm.close()
const closeMs = Number(process.hrtime.bigint() - start) / 1e6
const execB = await runB
report({ closeSessionMs, closeMs, a: execA.status, b: execB.status })
`),
  )
  const [r] = reports
  assert.deepEqual([r.a, r.b], ['cancelled', 'cancelled'])
  assert.ok(r.closeSessionMs < 250, `closeSession took ${r.closeSessionMs} ms`)
  assert.ok(r.closeMs < 250, `close took ${r.closeMs} ms`)
})

test('close() and closeSession() stop a long native call (a comparator-free sort) promptly', async () => {
  // Sorting a million numbers as strings, or 16M doubles, is one built-in call of seconds:
  // the engine polls the stop in its sort loops (vendor/rquickjs-sys.patch).
  const reports = ended(
    await runChild(`
const vm = new VmSystem()
const t = vm.createTemplate('w')
vm.updateSettings(t.id, { limits: { cpu_ms: 60000, wall_ms: 60000, mem_mb: 1024 } })
const a = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
const b = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
vm.replSync(a.id, 'var a = []; for (let i = 0; i < 1e6; i++) a.push((i * 7919) % 1000003); 0')
vm.replSync(b.id, 'var t = new Float64Array(1 << 24); for (let i = 0; i < 1 << 20; i++) t[i] = (i * 7919) % 1000003; for (let n = 1 << 20; n < t.length; n *= 2) t.copyWithin(n, 0, n); 0')
const runA = vm.repl(a.id, 'a.sort(); 0')
const runB = vm.repl(b.id, 't.sort(); 0')
while (vm.runningExecution(a.id) === null || vm.runningExecution(b.id) === null) await sleep(2)
await sleep(200)
let start = process.hrtime.bigint()
vm.closeSession(a.id)
const closeSessionMs = Number(process.hrtime.bigint() - start) / 1e6
const execA = await runA
start = process.hrtime.bigint()
vm.close()
const closeMs = Number(process.hrtime.bigint() - start) / 1e6
const execB = await runB
report({ closeSessionMs, closeMs, a: execA.status, b: execB.status })
`, { timeoutMs: 60000 }),
  )
  const [r] = reports
  assert.deepEqual([r.a, r.b], ['cancelled', 'cancelled'])
  assert.ok(r.closeSessionMs < 1000, `closeSession took ${r.closeSessionMs} ms`)
  assert.ok(r.closeMs < 1000, `close took ${r.closeMs} ms`)
})

test('close() while createSession runs the startup files leaves no live session and nothing running', async () => {
  const reports = ended(
    await runChild(`
import path from 'node:path'
const file = path.join(tempDir(), 'starting.db')
const vm = new VmSystem(file)
const t = vm.createTemplate('slow start')
vm.updateSettings(t.id, { limits: { cpu_ms: 60000, wall_ms: 60000 } })
vm.addStartupFile(t.id, 'slow.js')
const creating = vm.createSession(t.id, 'ws', 'abc', tempDir({ 'slow.js': 'while (true) {}' }))
while (vm.listSessions('starting').length === 0) await sleep(5)
const [starting] = vm.listSessions('starting')
await sleep(100)
const start = process.hrtime.bigint()
vm.close()
const closeMs = Number(process.hrtime.bigint() - start) / 1e6
let error = null
try { await creating } catch (e) { error = e.code }
const afterClose = vm.runtimeSummary().activeSessions
// Nothing of the session runs any more: the process stays idle.
const cpuBefore = process.cpuUsage()
await sleep(400)
const cpuMs = (process.cpuUsage(cpuBefore).user) / 1000
const other = new VmSystem(file)
const session = other.getSession(starting.id)
const [startup] = other.listExecutions(starting.id)
report({ closeMs, error, afterClose, cpuMs, session: session.status, startup: startup.status,
  summary: other.runtimeSummary().activeSessions })
other.close()
`),
  )
  const [r] = reports
  assert.ok(r.closeMs < 250, `close took ${r.closeMs} ms`)
  assert.ok(r.error, 'createSession did not hand out a session')
  assert.equal(r.afterClose, 0)
  assert.equal(r.session, 'closed')
  assert.equal(r.startup, 'cancelled')
  assert.equal(r.summary, 0)
  assert.ok(r.cpuMs < 200, `the startup file kept running: ${r.cpuMs} ms of CPU in 400 ms`)
})
