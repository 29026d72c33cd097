// Benchmark: vm-system (recorded in SQLite) side by side with node:vm and quickjs-emscripten
// doing the same work without recording. Run: `node bench/bench.mjs` (after a release build).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import nodeVm from 'node:vm'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { getQuickJS } from 'quickjs-emscripten'
import { VmSystem } from 'vm-system'

const LINES = 'for (let i = 0; i < 1000; i++) console.log("line", i)'
const worktree = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'vms-bench-')))

/** Mean time per call in microseconds, after a warm-up. */
async function measure(fn, { iterations = 2000, warmup = 100 } = {}) {
  for (let i = 0; i < warmup; i++) await fn()
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await fn()
  return Number(process.hrtime.bigint() - start) / 1000 / iterations
}

function measureSync(fn, { iterations = 2000, warmup = 100 } = {}) {
  for (let i = 0; i < warmup; i++) fn()
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) fn()
  return Number(process.hrtime.bigint() - start) / 1000 / iterations
}

function vmSystem(dbPath) {
  const vm = dbPath ? new VmSystem(dbPath) : new VmSystem()
  const template = vm.createTemplate('bench')
  vm.updateSettings(template.id, { limits: { max_events: 10000, max_output_kb: 65536 } })
  const session = vm.createSessionSync(template.id, 'bench', 'HEAD', worktree)
  return { vm, template, session }
}

const results = []
const row = (operation, unit, cells) => results.push({ operation, unit, ...cells })
const fmt = (x) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1))

// vm-system, in memory and in a file.
const mem = vmSystem()
const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vms-bench-db-'))
const file = vmSystem(path.join(dbDir, 'bench.db'))

// node:vm
const nodeCtx = nodeVm.createContext({})
const nodeScript = new nodeVm.Script('1+1')
const nodeLines = []
const nodeConsoleCtx = nodeVm.createContext({ console: { log: (...a) => nodeLines.push(a.join(' ')) } })
const nodeLinesScript = new nodeVm.Script(LINES)

// quickjs-emscripten
const QuickJS = await getQuickJS()
const qjs = QuickJS.newContext()
const qjsEval = (context, code) => {
  const result = context.evalCode(code)
  const handle = context.unwrapResult(result)
  const value = context.dump(handle)
  handle.dispose()
  return value
}
const qjsLines = []
const qjsConsole = QuickJS.newContext()
{
  const consoleObj = qjsConsole.newObject()
  const log = qjsConsole.newFunction('log', (...args) => {
    qjsLines.push(args.map((h) => qjsConsole.dump(h)).join(' '))
  })
  qjsConsole.setProp(consoleObj, 'log', log)
  qjsConsole.setProp(qjsConsole.global, 'console', consoleObj)
  log.dispose()
  consoleObj.dispose()
}

row('eval 1+1', 'µs/op', {
  'vm-system replSync': measureSync(() => mem.vm.replSync(mem.session.id, '1+1')),
  'vm-system await repl': await measure(() => mem.vm.repl(mem.session.id, '1+1')),
  'vm-system replSync (file db)': measureSync(() => file.vm.replSync(file.session.id, '1+1'), { iterations: 500 }),
  'node:vm': measureSync(() => nodeScript.runInContext(nodeCtx)),
  'quickjs-emscripten': measureSync(() => qjsEval(qjs, '1+1')),
})

row('session / context create + close', 'µs/op', {
  'vm-system replSync': measureSync(
    () => mem.vm.closeSession(mem.vm.createSessionSync(mem.template.id, 'bench', 'HEAD', worktree).id),
    { iterations: 200, warmup: 10 },
  ),
  'vm-system await repl': await measure(
    async () => mem.vm.closeSession((await mem.vm.createSession(mem.template.id, 'bench', 'HEAD', worktree)).id),
    { iterations: 200, warmup: 10 },
  ),
  'vm-system replSync (file db)': measureSync(
    () => file.vm.closeSession(file.vm.createSessionSync(file.template.id, 'bench', 'HEAD', worktree).id),
    { iterations: 100, warmup: 5 },
  ),
  'node:vm': measureSync(() => nodeVm.createContext({}), { iterations: 200, warmup: 10 }),
  'quickjs-emscripten': measureSync(() => QuickJS.newContext().dispose(), { iterations: 200, warmup: 10 }),
})

const ms = (us) => us / 1000
row('1,000 console lines', 'ms/run', {
  'vm-system replSync': ms(measureSync(() => mem.vm.replSync(mem.session.id, LINES), { iterations: 30, warmup: 3 })),
  'vm-system await repl': ms(await measure(() => mem.vm.repl(mem.session.id, LINES), { iterations: 30, warmup: 3 })),
  'vm-system replSync (file db)': ms(
    measureSync(() => file.vm.replSync(file.session.id, LINES), { iterations: 30, warmup: 3 }),
  ),
  'node:vm': ms(measureSync(() => { nodeLines.length = 0; nodeLinesScript.runInContext(nodeConsoleCtx) }, { iterations: 30, warmup: 3 })),
  'quickjs-emscripten': ms(measureSync(() => { qjsLines.length = 0; qjsEval(qjsConsole, LINES) }, { iterations: 30, warmup: 3 })),
})

const check = mem.vm.replSync(mem.session.id, LINES)
if (check.metrics.eventCount !== 1002 || nodeLines.length !== 1000 || qjsLines.length !== 1000) {
  throw new Error('the runs did not do the same work')
}

const columns = ['vm-system replSync', 'vm-system await repl', 'vm-system replSync (file db)', 'node:vm', 'quickjs-emscripten']
const header = ['operation', 'unit', ...columns]
const lines = results.map((r) => [r.operation, r.unit, ...columns.map((c) => fmt(r[c]))])
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
const print = (cells) => console.log(`| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`)
print(header)
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
lines.forEach(print)
console.log('\nvm-system records every run (execution row + events) in SQLite; node:vm and quickjs-emscripten record nothing.')
console.log('"await repl" column: the Promise forms (createSession / repl), run on the binding\'s threads.')

// The binding's own cost: the same recorded repl("1+1") in memory from Rust (bench/repl_rust.rs),
// best of 7 rounds on both sides. Skipped when cargo is not available.
const best = (fn) => Math.min(...Array.from({ length: 7 }, () => measureSync(fn, { iterations: 5000, warmup: 500 })))
const nodeBest = best(() => mem.vm.replSync(mem.session.id, '1+1'))
const rust = spawnSync('cargo', ['run', '--release', '-q', '-p', 'vm-system-node', '--example', 'repl_rust', '--target', 'x86_64-unknown-linux-gnu'], {
  cwd: path.dirname(fileURLToPath(import.meta.url)),
  encoding: 'utf8',
})
if (rust.status === 0) {
  const rustBest = Number(rust.stdout.trim())
  console.log(`\nreplSync("1+1") in memory, best of 7 rounds: Node ${nodeBest.toFixed(1)} µs, Rust ${rustBest.toFixed(1)} µs, binding cost ${(nodeBest - rustBest).toFixed(1)} µs`)
} else {
  console.log(`\nreplSync("1+1") in memory, best of 7 rounds: Node ${nodeBest.toFixed(1)} µs (Rust side skipped: ${rust.error ?? rust.stderr.trim()})`)
}

qjs.dispose()
qjsConsole.dispose()
mem.vm.close()
file.vm.close()
fs.rmSync(dbDir, { recursive: true, force: true })
fs.rmSync(worktree, { recursive: true, force: true })
