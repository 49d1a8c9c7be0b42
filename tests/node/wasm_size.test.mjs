// The wasm module's size budget: at most 400 KiB gzipped (gzip -9), as scripts/build.sh builds it (wasm-bindgen,
// then wasm-opt -O3) into pkg/. The page loads it before anything works, so it may not creep up unnoticed.
// Needs the wasm package: `bash scripts/build.sh` (pkg/), or PKG=<wasm-bindgen + wasm-opt out dir>.
//
//   node --test tests/node/wasm_size.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const BUDGET_KIB = 400;

test(`the wasm module is at most ${BUDGET_KIB} KiB gzipped`, () => {
  const file = path.join(path.resolve(process.env.PKG ?? 'pkg'), 'transformer_playground_bg.wasm');
  const raw = fs.readFileSync(file);
  // gzip -9 itself, as scripts/build.sh and docs/benchmarks.md measure: Node's zlib (Chromium's fork) makes a
  // different stream, 1.4% larger on this module.
  const gz = execFileSync('gzip', ['-9', '-c', file], { maxBuffer: 64 << 20 }).length;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`wasm module: ${kib(raw.length)} raw, ${kib(gz)} gzipped`);
  assert.ok(
    gz <= BUDGET_KIB * 1024,
    `the wasm module is ${kib(gz)} gzipped, over the ${BUDGET_KIB} KiB budget: keep new bindings lean, ` +
      'or find what grew (docs/benchmarks.md, "wasm module size")',
  );
});
