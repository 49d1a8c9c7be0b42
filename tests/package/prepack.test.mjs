// `npm pack` from a fresh clone (no pkg/, no lib/, nothing built): the package's `prepack` builds the wasm core
// and lib/, so the tarball holds the code, the types and the .wasm. The clone borrows this checkout's
// node_modules (the toolchain a person installs before packing). It is made at a fixed place with its own Cargo
// target folder (target/prepack-check/): Cargo shares a build script between checkouts at different paths, and
// the crate's build script remembers the path it was built for, so a clone must not share this checkout's
// target folder; the fixed place lets the next run reuse the dependencies built by the first (minutes).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, skipReason } from './helpers.mjs';

test('npm pack from a fresh clone builds lib/ first and packs code, types and the core', { skip: skipReason() }, () => {
  const dir = join(ROOT, 'target', 'prepack-check');
  const clone = join(dir, 'repo');
  const out = join(dir, 'out');
  rmSync(clone, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  try {
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { stdio: 'pipe' });
    assert.ok(!existsSync(join(clone, 'lib')) && !existsSync(join(clone, 'pkg')), 'the clone has nothing built');
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    mkdirSync(out);
    const env = { ...process.env, CARGO_TARGET_DIR: join(dir, 'target') };
    execFileSync('npm', ['pack', '--pack-destination', out], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    const [tarball] = readdirSync(out).filter((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    const files = execFileSync('tar', ['-tzf', join(out, tarball)], { encoding: 'utf8' }).split('\n');
    for (const file of ['package/lib/index.js', 'package/lib/index.d.ts', 'package/lib/wasm/transformer_playground_bg.wasm', 'package/lib/wasm/transformer_playground.js']) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
  } finally {
    rmSync(clone, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});
