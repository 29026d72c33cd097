// Shared helpers of the Node tests. The package is imported by name, so the same files run
// against the working copy (package self-reference) and against an installed tarball.
import assert from 'node:assert/strict'
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
