// Builds the npm package into lib/: copies the wasm core from pkg/ (scripts/build.sh makes it) into lib/wasm/,
// compiles js/src with tsc (ES modules + .d.ts), and points the emitted imports at lib/wasm/.
// Usage: node js/build.mjs   (npm run build:lib)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'pkg');
const lib = join(root, 'lib');
const CORE = ['transformer_playground.js', 'transformer_playground.d.ts', 'transformer_playground_bg.wasm'];

for (const file of CORE) {
  if (!existsSync(join(pkg, file))) {
    console.error(`[build:lib] pkg/${file} is missing: build the wasm core first (bash scripts/build.sh).`);
    process.exit(1);
  }
}

rmSync(lib, { recursive: true, force: true });
mkdirSync(join(lib, 'wasm'), { recursive: true });
for (const file of CORE) copyFileSync(join(pkg, file), join(lib, 'wasm', file));

execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'js', 'tsconfig.json')], {
  stdio: 'inherit',
});

// js/src/wasm.ts reaches the core at ../../pkg/ (so the page and tests can use the source directly); in the
// package the core sits in lib/wasm/. Only wasm.ts may import it, and all three of its references must move.
let moved = 0;
for (const file of readdirSync(lib)) {
  if (!file.endsWith('.js') && !file.endsWith('.d.ts')) continue;
  const path = join(lib, file);
  const text = readFileSync(path, 'utf8');
  const count = text.split('../../pkg/').length - 1;
  if (count === 0) continue;
  if (!['wasm.js', 'wasm.d.ts', 'core.js', 'core.d.ts'].includes(file)) {
    console.error(`[build:lib] lib/${file} imports ../../pkg/ directly: only js/src/wasm.ts and core.ts may do that.`);
    process.exit(1);
  }
  moved += count;
  writeFileSync(path, text.replaceAll('../../pkg/', './wasm/'));
}
const js = readFileSync(join(lib, 'wasm.js'), 'utf8');
if (!js.includes("new URL('./wasm/transformer_playground_bg.wasm', import.meta.url)") || js.includes('../pkg')) {
  console.error('[build:lib] lib/wasm.js does not load ./wasm/transformer_playground_bg.wasm as expected.');
  process.exit(1);
}
const kib = (readFileSync(join(lib, 'wasm', 'transformer_playground_bg.wasm')).length / 1024).toFixed(0);
console.error(`[build:lib] lib/ built (${moved} core paths moved to lib/wasm/, wasm ${kib} KiB)`);
