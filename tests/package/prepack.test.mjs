// `npm pack` from a fresh clone (no pkg/, no lib/, nothing built): the package's `prepack` builds the wasm core
// and lib/, so the tarball holds the code, the types and the .wasm. The clone borrows this checkout's
// node_modules and Cargo target folder (the toolchain a person installs before packing), nothing built of it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, skipReason } from './helpers.mjs';

test('npm pack from a fresh clone builds lib/ first and packs code, types and the core', { skip: skipReason() }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-clone-'));
  try {
    const clone = join(dir, 'repo');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { stdio: 'pipe' });
    assert.ok(!existsSync(join(clone, 'lib')) && !existsSync(join(clone, 'pkg')), 'the clone has nothing built');
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const out = join(dir, 'out');
    mkdirSync(out);
    const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target') };
    execFileSync('npm', ['pack', '--pack-destination', out], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    const [tarball] = readdirSync(out).filter((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    const files = execFileSync('tar', ['-tzf', join(out, tarball)], { encoding: 'utf8' }).split('\n');
    for (const file of ['package/lib/index.js', 'package/lib/index.d.ts', 'package/lib/wasm/transformer_playground_bg.wasm', 'package/lib/wasm/transformer_playground.js']) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
