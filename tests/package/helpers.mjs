// Shared set-up for the package tests: pack the package (lib/ must be built: npm run build:lib), install the
// tarball into a fresh project outside the repository, and launch headless Chromium like the browser tests do.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumPath, launchChromium } from '../chromium.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'package');
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** A skip reason for node:test (loud), or a thrown error in CI, when the build or the browser is missing. */
export function skipReason({ browser = false } = {}) {
  let reason;
  if (!existsSync(join(ROOT, 'lib', 'index.js')) || !existsSync(join(ROOT, 'lib', 'wasm', 'transformer_playground_bg.wasm'))) {
    reason = 'lib/ is not built (bash scripts/build.sh && npm run build:lib)';
  } else if (browser && !chromiumPath()) reason = 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)';
  if (reason && IN_CI) throw new Error(`CI=true but the package test cannot run: ${reason}`);
  if (reason) console.error(`\n!!! SKIPPED PACKAGE TEST: ${reason}\n`);
  return reason;
}

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `npm pack` into a fresh folder; returns the tarball's path. The package's `prepack` (which rebuilds the core
 *  and lib/) is skipped: `npm run test:package` has just built lib/ (prepack.test.mjs checks a fresh clone). */
export function pack() {
  const out = mkdtempSync(join(tmpdir(), 'tp-pack-'));
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], ROOT));
  return { tarball: join(out, info.filename), info, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/**
 * A new project (outside the repository, so nothing resolves from the repo's node_modules) with the tarball
 * installed offline: the package has no dependencies, so npm needs nothing but the tarball.
 */
export function installInNewProject(tarball, files = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tp-consumer-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tp-consumer', private: true, type: 'module' }, null, 2));
  run('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts=false'], dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function listFiles(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
  );
}

/** Headless Chromium with WebGPU on SwiftShader, or without WebGPU (tests/chromium.mjs). */
export async function launchBrowser({ webgpu = true } = {}) {
  return launchChromium({ webgpu, viewport: { width: 1100, height: 900 } });
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
