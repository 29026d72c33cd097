// The README quick start, the examples and the type declarations are checked here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { ROOT } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const packageDir = path.dirname(require.resolve('vm-system/package.json'))

/** Runs `source` as a file next to the tests, where `vm-system` resolves to the package under test. */
function runHere(name, source) {
  const dir = fs.mkdtempSync(path.join(here, '.run-'))
  try {
    const file = path.join(dir, name)
    fs.writeFileSync(file, source)
    return execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60000 })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('the README quick start runs', () => {
  const readme = fs.readFileSync(path.join(packageDir, 'README.md'), 'utf8')
  const snippet = readme.match(/```js\n([\s\S]*?)```/)[1]
  const out = runHere('readme.js', snippet)
  assert.match(out, /ok 42/)
  assert.match(out, /2 console \{ level: 'log', text: 'hello' \}/)
})

for (const name of ['quickstart.js', 'quickstart.mjs']) {
  test(`examples/node/${name} runs`, () => {
    const source = fs.readFileSync(path.join(ROOT, 'examples', 'node', name), 'utf8')
    const out = runHere(name, source)
    assert.match(out, /-> ok: 42/)
    assert.match(out, /#2 console \{"level":"log","text":"hello, file"\}/)
    assert.match(out, /run_file report\.js ok \(3 events\)/)
  })
}

test('index.d.ts declares every method, without any or unknown', () => {
  const dts = fs.readFileSync(path.join(packageDir, 'index.d.ts'), 'utf8')
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, '')
  assert.doesNotMatch(code, /\b(any|unknown)\b/)
  const { VmSystem } = require('vm-system')
  for (const name of Object.getOwnPropertyNames(VmSystem.prototype)) {
    if (name !== 'constructor') assert.match(code, new RegExp(`\\b${name}\\(|get ${name}\\(`), name)
  }
  assert.match(code, /repl\(sessionId: string, input: string, options\?: WatchOptions \| undefined \| null\): Promise<Execution>/)
})

test('CommonJS and ES module entry points export the same objects', async () => {
  const cjs = require('vm-system')
  const esm = await import('vm-system')
  assert.deepEqual(Object.keys(cjs).sort(), ['ERROR_CODES', 'VmSystem', '__napiBindingTarget'])
  assert.equal(esm.VmSystem, cjs.VmSystem)
  assert.equal(esm.ERROR_CODES, cjs.ERROR_CODES)
  assert.equal(esm.__napiBindingTarget, 'native')
  assert.equal(esm.default, cjs)
})
