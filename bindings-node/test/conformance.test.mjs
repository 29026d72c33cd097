// Runs every case of tests/conformance/ (format: tests/conformance/README.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { VmSystem, ROOT, tempDir, sleep } from './helpers.mjs'

const casesDir = path.join(ROOT, 'tests', 'conformance')
const cases = fs.readdirSync(casesDir).filter((f) => f.endsWith('.json')).sort()

test('conformance cases are present', () => {
  assert.ok(cases.length >= 8, `only ${cases.length} cases in ${casesDir}`)
})

function checkEvents(what, actual, expected) {
  const summary = JSON.stringify(actual.map((e) => [e.type, e.payload]))
  assert.equal(actual.length, expected.length, `${what}: events ${summary}`)
  expected.forEach((want, i) => {
    const event = actual[i]
    assert.equal(event.seq, i + 1, `${what}: seq`)
    assert.equal(event.type, want.type, `${what}: event ${i + 1} type; ${summary}`)
    for (const [key, value] of Object.entries(want.payload ?? {})) {
      if (value === '<absent>') {
        assert.ok(!(key in event.payload), `${what}: event ${i + 1} has ${key}`)
      } else {
        assert.deepEqual(event.payload[key], value, `${what}: event ${i + 1} payload ${key}`)
      }
    }
  })
}

function checkExecution(vm, what, exec, step) {
  assert.equal(exec.status, step.status, `${what}: status (${exec.error})`)
  if ('value' in step) assert.deepEqual(exec.result?.json, step.value, `${what}: value`)
  if ('result_type' in step) assert.equal(exec.result?.type, step.result_type, `${what}: result type`)
  if ('error_message' in step) assert.equal(exec.error, step.error_message, `${what}: error`)
  if (step.events) checkEvents(what, vm.events(exec.id), step.events)
}

async function attempt(promise) {
  try {
    return { exec: await promise }
  } catch (error) {
    return { error }
  }
}

for (const file of cases) {
  const name = path.basename(file, '.json')
  test(`conformance: ${name}`, async () => {
    const spec = JSON.parse(fs.readFileSync(path.join(casesDir, file), 'utf8'))
    const worktree = tempDir(spec.files ?? {})
    const outside = tempDir(spec.outside_files ?? {})
    for (const link of spec.symlinks ?? []) {
      fs.symlinkSync(link.target.replace('<outside>', outside), path.join(worktree, link.link))
    }

    const vm = new VmSystem()
    try {
      const template = vm.createTemplate(name, 'quickjs')
      const setup = spec.template ?? {}
      if (setup.settings) vm.updateSettings(template.id, setup.settings)
      for (const f of setup.startup_files ?? []) {
        vm.addStartupFile(template.id, f.path, f.order_index ?? 0, f.mode ?? 'eval')
      }
      for (const m of setup.modules ?? []) vm.addModule(template.id, m)

      const expect = spec.session ?? { status: 'ready' }
      const created = await attempt(vm.createSession(template.id, 'ws-conformance', '0000000', worktree))
      let sessionId
      if (expect.error) {
        assert.ok(created.error, `session created, expected ${expect.error}`)
        assert.equal(created.error.code, expect.error, created.error.message)
        assert.ok(created.error.sessionId, `${created.error.code} carries no session id`)
        sessionId = created.error.sessionId
      } else {
        assert.ok(!created.error, `session failed: ${created.error?.message}`)
        sessionId = created.exec.id
      }
      const session = vm.getSession(sessionId)
      assert.equal(session.status, expect.status ?? 'ready', session.lastError ?? '')
      if (expect.startup) {
        const execs = vm.listExecutions(sessionId, 50).reverse()
        assert.equal(execs.length, expect.startup.length, 'startup executions')
        execs.forEach((exec, i) => {
          const want = expect.startup[i]
          assert.equal(exec.kind, 'startup')
          assert.equal(exec.path, want.path)
          checkExecution(vm, `startup ${want.path}`, exec, want)
        })
      }

      for (const [i, step] of spec.steps.entries()) {
        const what = `step ${i + 1}`
        const before = vm.listExecutions(sessionId, 10000).length
        let result
        if (step.op === 'repl') {
          result = await attempt(vm.repl(sessionId, step.input))
        } else if (step.op === 'run_file') {
          result = await attempt(vm.runFile(sessionId, step.path, { args: step.args ?? {}, env: step.env ?? {} }))
        } else if (step.op === 'busy') {
          const hold = vm.repl(sessionId, step.hold)
          const deadline = Date.now() + 10000
          while (!vm.listExecutions(sessionId, 10000).some((e) => e.status === 'running')) {
            assert.ok(Date.now() < deadline, 'hold never started')
            await sleep(1)
          }
          result = await attempt(vm.repl(sessionId, step.input))
          await hold
        } else {
          assert.fail(`unknown op ${step.op}`)
        }
        if (step.error) {
          assert.ok(result.error, `${what}: expected ${step.error}, got ${result.exec?.status}`)
          assert.equal(result.error.code, step.error, `${what}: ${result.error.message}`)
          const held = step.op === 'busy' ? 1 : 0
          assert.equal(vm.listExecutions(sessionId, 10000).length, before + held, `${what}: a refused request created a record`)
        } else {
          assert.ok(!result.error, `${what}: ${result.error?.code} ${result.error?.message}`)
          checkExecution(vm, what, result.exec, step)
        }
      }
      if (session.status === 'ready') assert.equal(vm.closeSession(sessionId).status, 'closed')
    } finally {
      vm.close()
    }
  })
}
