import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VmSystem, tempDir, throwsCode } from './helpers.mjs'

test('create, get, list and delete templates', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('first')
  assert.equal(t.name, 'first')
  assert.equal(t.engine, 'quickjs')
  assert.match(t.id, /^[0-9a-f-]{36}$/)
  assert.ok(t.createdAt && t.updatedAt)
  assert.deepEqual(Object.keys(t).sort(), ['createdAt', 'engine', 'id', 'name', 'updatedAt'])
  const second = vm.createTemplate('second', 'quickjs')
  assert.deepEqual(vm.listTemplates().map((x) => x.name), ['first', 'second'])

  const detail = vm.getTemplate(t.id)
  assert.equal(detail.id, t.id)
  assert.deepEqual(detail.settings, {
    limits: { cpu_ms: 5000, wall_ms: 30000, mem_mb: 128, max_events: 1000, max_output_kb: 512 },
    resolver: { roots: [], extensions: ['.js', '.mjs'], allow_absolute_repo_imports: false },
    runtime: { esm: false, strict: false, console: true, unhandled_rejections: 'error' },
  })
  assert.deepEqual(detail.startupFiles, [])
  assert.deepEqual(detail.capabilities, [])
  assert.deepEqual(detail.modules, [])
  assert.deepEqual(detail.libraries, [])

  vm.deleteTemplate(second.id)
  assert.deepEqual(vm.listTemplates().map((x) => x.id), [t.id])
  throwsCode(() => vm.getTemplate(second.id), 'TEMPLATE_NOT_FOUND')
  throwsCode(() => vm.deleteTemplate(second.id), 'TEMPLATE_NOT_FOUND')
  throwsCode(() => vm.createTemplate('x', 'v8'), 'VALIDATION_ERROR')
  throwsCode(() => vm.createTemplate(''), 'VALIDATION_ERROR')
})

test('updateSettings is partial and validated', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('s')
  const settings = vm.updateSettings(t.id, { limits: { cpu_ms: 100 }, runtime: { strict: true } })
  assert.equal(settings.limits.cpu_ms, 100)
  assert.equal(settings.limits.wall_ms, 30000)
  assert.equal(settings.runtime.strict, true)
  assert.deepEqual(vm.getTemplate(t.id).settings, settings)
  throwsCode(() => vm.updateSettings(t.id, { limits: { cpu_ms: -1 } }), 'VALIDATION_ERROR')
  throwsCode(() => vm.updateSettings(t.id, { limits: { cpuMs: 5 } }), 'VALIDATION_ERROR')
  throwsCode(() => vm.updateSettings(t.id, { nope: {} }), 'VALIDATION_ERROR')
  assert.equal(vm.getTemplate(t.id).settings.limits.cpu_ms, 100, 'nothing changed by a bad patch')
  throwsCode(() => vm.updateSettings('missing', { limits: { cpu_ms: 5 } }), 'TEMPLATE_NOT_FOUND')
})

test('runtime.unhandled_rejections passes through and is validated', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('r')
  throwsCode(() => vm.updateSettings(t.id, { runtime: { unhandled_rejections: 'ignore' } }), 'VALIDATION_ERROR')
  const settings = vm.updateSettings(t.id, { runtime: { unhandled_rejections: 'warn' } })
  assert.equal(settings.runtime.unhandled_rejections, 'warn')
  const session = vm.createSessionSync(t.id, 'ws', 'abc', tempDir())
  const exec = vm.replSync(session.id, "Promise.reject(new Error('lost')); 1")
  assert.equal(exec.status, 'ok')
  assert.deepEqual(
    vm.events(exec.id).filter((e) => e.type === 'system').map((e) => e.payload),
    [{ level: 'warn', message: 'Unhandled promise rejection: Error: lost' }],
  )
  vm.close()
})

test('startup files', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('s')
  assert.deepEqual(vm.addStartupFile(t.id, 'b.js', 2), { path: 'b.js', orderIndex: 2, mode: 'eval' })
  vm.addStartupFile(t.id, 'a.mjs', 1, 'module')
  vm.addStartupFile(t.id, 'c.js')
  assert.deepEqual(vm.listStartupFiles(t.id).map((f) => [f.path, f.orderIndex, f.mode]), [
    ['c.js', 0, 'eval'],
    ['a.mjs', 1, 'module'],
    ['b.js', 2, 'eval'],
  ])
  vm.removeStartupFile(t.id, 'c.js')
  assert.deepEqual(vm.listStartupFiles(t.id).map((f) => f.path), ['a.mjs', 'b.js'])
  throwsCode(() => vm.addStartupFile(t.id, '/etc/passwd'), 'INVALID_PATH')
  throwsCode(() => vm.addStartupFile(t.id, '../up.js'), 'INVALID_PATH')
  throwsCode(() => vm.addStartupFile(t.id, 'x.js', 0, 'commonjs'), 'STARTUP_MODE_UNSUPPORTED')
  throwsCode(() => vm.listStartupFiles('missing'), 'TEMPLATE_NOT_FOUND')
})

test('capabilities', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('c')
  assert.deepEqual(vm.addCapability(t.id, 'fs', 'read'), { kind: 'fs', name: 'read', enabled: true, config: {} })
  vm.addCapability(t.id, 'net', 'api', false, { hosts: ['example.com'], port: 443 })
  assert.deepEqual(vm.listCapabilities(t.id), [
    { kind: 'fs', name: 'read', enabled: true, config: {} },
    { kind: 'net', name: 'api', enabled: false, config: { hosts: ['example.com'], port: 443 } },
  ])
  assert.deepEqual(vm.getTemplate(t.id).capabilities, vm.listCapabilities(t.id))
  throwsCode(() => vm.addCapability(t.id, 'gpu', 'x'), 'VALIDATION_ERROR')
})

test('native modules', () => {
  const vm = new VmSystem()
  const t = vm.createTemplate('m')
  const available = vm.availableModules()
  assert.deepEqual(available.map((m) => m.name).sort(), ['database', 'exec', 'fs'])
  for (const m of available) {
    assert.equal(typeof m.description, 'string')
    assert.ok(m.functions.length > 0)
  }
  vm.addModule(t.id, 'fs')
  vm.addModule(t.id, 'database')
  assert.deepEqual(vm.listModules(t.id), ['database', 'fs'])
  vm.removeModule(t.id, 'fs')
  assert.deepEqual(vm.listModules(t.id), ['database'])
  assert.deepEqual(vm.getTemplate(t.id).modules, ['database'])
  const builtin = throwsCode(() => vm.addModule(t.id, 'Console'), 'MODULE_NOT_ALLOWED')
  assert.match(builtin.message, /built-in|builtin/i)
  throwsCode(() => vm.addModule(t.id, 'left-pad'), 'MODULE_NOT_ALLOWED')
})

test('libraries', () => {
  const cache = tempDir()
  const vm = new VmSystem(undefined, { libraryCache: cache })
  assert.equal(vm.libraryCache, cache)
  const t = vm.createTemplate('l')
  const catalog = vm.availableLibraries()
  assert.ok(catalog.some((l) => l.name === 'lodash-4.17.21' && l.global === '_' && /^[0-9a-f]{64}$/.test(l.sha256)))
  vm.addLibrary(t.id, 'lodash-4.17.21')
  vm.addLibrary(t.id, 'dayjs-1.11.10')
  assert.deepEqual(vm.listLibraries(t.id), ['dayjs-1.11.10', 'lodash-4.17.21'])
  vm.removeLibrary(t.id, 'dayjs-1.11.10')
  assert.deepEqual(vm.getTemplate(t.id).libraries, ['lodash-4.17.21'])
  throwsCode(() => vm.addLibrary(t.id, 'jquery-3.0.0'), 'VALIDATION_ERROR')
  assert.deepEqual(vm.installedLibraries(), [])
  throwsCode(() => vm.installLibrary('jquery-3.0.0'), 'VALIDATION_ERROR')
  const bogus = tempDir({ 'lodash.js': 'not lodash' })
  const mismatch = throwsCode(() => vm.installLibrary('lodash-4.17.21', `${bogus}/lodash.js`), 'VALIDATION_ERROR')
  assert.match(mismatch.message, /checksum/)
  assert.deepEqual(vm.installedLibraries(), [])
})

test('a file database is shared by two instances', () => {
  const dir = tempDir()
  const a = new VmSystem(`${dir}/vm.db`)
  const t = a.createTemplate('shared')
  const b = new VmSystem(`${dir}/vm.db`)
  assert.deepEqual(b.getTemplate(t.id).name, 'shared')
  a.close()
  b.close()
  throwsCode(() => new VmSystem(''), 'VALIDATION_ERROR')
})
