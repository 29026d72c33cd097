// vm-system quick start (CommonJS). Run: `node quickstart.js` where `vm-system` is
// installed (see bindings-node/README.md; bindings-node/test.sh runs this file).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { VmSystem } = require('vm-system')

async function main() {
  // A worktree: the directory the session may read files from.
  const worktree = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-quickstart-'))
  fs.writeFileSync(path.join(worktree, 'setup.js'), 'globalThis.greet = (name) => `hello, ${name}`')
  fs.writeFileSync(path.join(worktree, 'report.js'), 'console.log(greet(__ARGS__.who)); __ARGS__.who.length')

  const vm = new VmSystem() // in memory; pass a path to keep the records in a file
  const template = vm.createTemplate('quickstart')
  vm.updateSettings(template.id, { limits: { cpu_ms: 1000 } })
  vm.addStartupFile(template.id, 'setup.js')

  const session = await vm.createSession(template.id, 'workspace-1', 'HEAD', worktree)
  const print = (event) => console.log(`  #${event.seq} ${event.type} ${JSON.stringify(event.payload)}`)

  console.log('repl:')
  const snippet = await vm.repl(session.id, 'console.log(greet("repl")); 6 * 7', { onEvent: print })
  console.log(`-> ${snippet.status}: ${snippet.result.preview}`)

  console.log('runFile:')
  const run = await vm.runFile(session.id, 'report.js', { args: { who: 'file' }, onEvent: print })
  console.log(`-> ${run.status}: ${run.result.preview}`)

  for (const exec of vm.listExecutions(session.id).reverse()) {
    console.log(`${exec.kind} ${exec.path ?? exec.input} ${exec.status} (${vm.events(exec.id).length} events)`)
  }
  vm.closeSession(session.id)
  vm.close()
  fs.rmSync(worktree, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(`${error.code}: ${error.message}`)
  process.exit(1)
})
