// Bundles the console (src/) into dist/: index.html, app.js (CodeMirror included) and
// app.css. dist/ is committed and embedded in the vm-system binary, so building the Rust
// crate never needs Node; CI rebuilds it and fails when it differs from the commit.
// Deterministic: pinned versions (package-lock.json), no timestamps, no source maps.

import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
await build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox115', 'safari16'],
  outdir: dist,
  charset: 'utf8',
  legalComments: 'eof',
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(dist, 'index.html'));
