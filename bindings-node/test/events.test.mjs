import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VmSystem, tempDir, setup, busy } from './helpers.mjs'

test('onEvent receives every event, in order, while the code runs', async () => {
  const { vm, session } = setup()
  const seen = []
  let runningAtFirstLog = null
  const exec = await vm.repl(session.id, `console.log('early'); ${busy(250, '')} console.info('late'); 7`, {
    onEvent: (event) => {
      seen.push(event)
      if (event.type === 'console' && runningAtFirstLog === null) {
        runningAtFirstLog = vm.runningExecution(session.id)
      }
    },
  })
  assert.equal(runningAtFirstLog, exec.id, 'the first console event arrived while the script ran')
  assert.deepEqual(seen, vm.events(exec.id), 'the same events as stored, all delivered before the Promise settled')
  assert.deepEqual(seen.map((e) => e.seq), [1, 2, 3, 4])
  assert.deepEqual(seen.map((e) => e.payload.text ?? e.payload.json), [
    `console.log('early'); ${busy(250, '')} console.info('late'); 7`,
    'early',
    'late',
    7,
  ])
  vm.close()
})

test('onEvent on runFile and on createSession (startup files)', async () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('e')
  vm.addStartupFile(t.id, 'init.js')
  const dir = tempDir({ 'init.js': 'console.log("booting")', 'run.js': 'console.log(__ARGS__.x); __ARGS__.x * 2' })
  const startup = []
  const session = await vm.createSession(t.id, 'ws', 'abc', dir, { onEvent: (e) => startup.push(e) })
  const [boot] = vm.listExecutions(session.id)
  assert.deepEqual(startup, vm.events(boot.id))
  assert.deepEqual(startup.map((e) => e.type), ['input_echo', 'console', 'value'])

  const seen = []
  const exec = await vm.runFile(session.id, 'run.js', { args: { x: 21 }, onEvent: (e) => seen.push(e) })
  assert.equal(exec.result.json, 42)
  assert.deepEqual(seen, vm.events(exec.id))
  assert.deepEqual(seen[1].payload, { level: 'log', text: '21' })
  vm.close()
})

test('many events keep their order', async () => {
  const { vm, session } = setup()
  const seqs = []
  const exec = await vm.repl(session.id, 'for (let i = 0; i < 500; i++) console.log(i)', {
    onEvent: (e) => seqs.push(e.seq),
  })
  assert.equal(exec.status, 'ok')
  assert.deepEqual(seqs, Array.from({ length: 502 }, (_, i) => i + 1))
  vm.close()
})

test('a throwing callback does not break the execution and is reported as a system event', async () => {
  const { vm, session } = setup()
  let calls = 0
  const exec = await vm.repl(session.id, `console.log('one'); ${busy(200, '')} console.log('two'); 'finished'`, {
    onEvent: () => {
      calls++
      throw new Error('callback broke')
    },
  })
  assert.equal(exec.status, 'ok')
  assert.equal(exec.result.json, 'finished')
  const events = vm.events(exec.id)
  assert.equal(calls, events.length, 'the callback still got every event')
  const system = events.find((e) => e.type === 'system')
  assert.ok(system, JSON.stringify(events))
  assert.equal(system.payload.level, 'warn')
  assert.match(system.payload.message, /onEvent callback threw: Error: callback broke/)
  assert.equal(vm.replSync(session.id, '1 + 1').result.json, 2)
  vm.close()
})
