// Shared helpers of the Node tests. The package is imported by name, so the same files run
// against the working copy (package self-reference) and against an installed tarball.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export { VmSystem, ERROR_CODES } from 'vm-system'

const here = path.dirname(fileURLToPath(import.meta.url))

/** The repository root (for tests/conformance and examples/): `VM_SYSTEM_ROOT` or ../.. */
export const ROOT = process.env.VM_SYSTEM_ROOT ?? path.resolve(here, '..', '..')

/** A fresh canonical temporary directory holding `files` ({relative: content}). */
export function tempDir(files = {}, prefix = 'vms-node-') {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))
  writeFiles(dir, files)
  return dir
}

export function writeFiles(root, files = {}) {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
  }
}

/** Asserts that `fn()` throws a vm-system error with `code`; returns the error. */
export function throwsCode(fn, code) {
  let caught
  assert.throws(fn, (error) => {
    caught = error
    return error instanceof Error && error.code === code
  }, `expected ${code}`)
  return caught
}

/** Asserts that `promise` rejects with a vm-system error with `code`; returns the error. */
export async function rejectsCode(promise, code) {
  let caught
  await assert.rejects(promise, (error) => {
    caught = error
    return error instanceof Error && error.code === code
  }, `expected ${code}`)
  return caught
}

/** An in-memory system with one template and one ready session on a temp worktree. */
export function setup(files = {}, configure = () => {}) {
  const vm = new VmSystem()
  const template = vm.createTemplate('test')
  configure(vm, template)
  const worktree = tempDir(files)
  const session = vm.createSessionSync(template.id, 'ws', 'abc123', worktree)
  return { vm, template, worktree, session }
}

import { VmSystem } from 'vm-system'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A snippet that keeps the runtime busy for `ms` milliseconds of wall time. */
export const busy = (ms, then = "'done'") => `{ const until = Date.now() + ${ms}; while (Date.now() < until) {} } ${then}`

/**
 * Runs `body` (ES module source) in a child `node` process, killed after `timeoutMs`. The
 * body sees this module's exports as `helpers` (and `VmSystem`, `tempDir`, `sleep`, `busy`,
 * `report`: `report(value)` prints one JSON line the parent reads back as `reports`).
 * `ulimit` (a number) caps the child's open files. Resolves with `{code, signal, timedOut,
 * ms, stdout, stderr, reports}`.
 */
export function runChild(body, { timeoutMs = 20000, ulimit } = {}) {
  const source = `import * as helpers from ${JSON.stringify(import.meta.url)}
const { VmSystem, tempDir, sleep, busy } = helpers
const report = (value) => console.log('REPORT ' + JSON.stringify(value))
${body}`
  const file = path.join(tempDir({}, 'vms-child-'), 'child.mjs')
  fs.writeFileSync(file, source)
  const [command, args] = ulimit
    ? ['bash', ['-c', `ulimit -n ${ulimit} && exec "$0" "$1"`, process.execPath, file]]
    : [process.execPath, [file]]
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const reports = stdout
        .split('\n')
        .filter((l) => l.startsWith('REPORT '))
        .map((l) => JSON.parse(l.slice(7)))
      resolve({ code, signal, timedOut, ms: Date.now() - started, stdout, stderr, reports })
    })
  })
}
