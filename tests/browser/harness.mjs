// Shared set-up for the browser tests: serve dist/ (the page, for page/) or the repository (the fixtures of
// bindings/, which drive the raw wasm bindings) on 127.0.0.1 and open it in headless Chromium (tests/chromium.mjs).
//
// A browser test never passes silently: with CI=true a missing Chromium fails; locally it prints a loud skip.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/static-server.mjs';
import { chromiumPath, launchChromium } from '../chromium.mjs';

export { chromiumPath };

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(root, 'test-artifacts');
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Returns a skip reason for node:test, or throws in CI when the browser or the build is missing. */
export function skipReason() {
  let reason;
  if (!chromiumPath()) reason = 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)';
  else if (!existsSync(join(root, 'dist', 'index.html'))) reason = 'dist/ is not built (npm run build)';
  if (reason && IN_CI) throw new Error(`CI=true but the browser test cannot run: ${reason}`);
  if (reason) console.error(`\n!!! SKIPPED BROWSER TEST: ${reason}\n`);
  return reason;
}

/** skipReason(), and also the package's lib/ (for the tests that import '/lib/index.js' in a blank page). */
export function skipReasonWithLib() {
  const reason = skipReason();
  if (reason) return reason;
  if (existsSync(join(root, 'lib', 'index.js'))) return undefined;
  const missing = 'lib/ is not built (node js/build.mjs)';
  if (IN_CI) throw new Error(`CI=true but the browser test cannot run: ${missing}`);
  console.error(`\n!!! SKIPPED BROWSER TEST: ${missing}\n`);
  return missing;
}

/**
 * Starts the server and a browser. `webgpu: false` launches Chromium with WebGPU disabled, to test the CPU path.
 * `initScript` (a function) runs in the page before its own scripts (Playwright's addInitScript).
 * Returns { url, browser, page, consoleErrors, close }.
 */
export async function openPlayground({ webgpu = true, path = '', viewport, colorScheme, initScript } = {}) {
  return openPage(path, { webgpu, viewport, colorScheme, initScript });
}

/**
 * Like openPlayground for any page: `root: 'dist'` serves the built page, `root: 'repo'` the repository
 * (the fixtures under tests/browser/bindings/fixtures, which import the wasm build from /pkg/).
 */
export async function openPage(
  path,
  { webgpu = true, root: which = 'dist', viewport = { width: 1280, height: 900 }, colorScheme = 'light', initScript } = {},
) {
  const { server, url } = await startServer(which === 'repo' ? root : join(root, 'dist'));
  const { browser, page, consoleErrors, requests } = await launchChromium({ webgpu, viewport, colorScheme });
  if (initScript) await page.addInitScript(initScript);
  await page.goto(url + path);
  const close = async () => {
    await browser.close();
    await new Promise((done) => server.close(done));
  };
  return { url, browser, page, consoleErrors, requests, close };
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias, in f64: the test's own reference. */
export function matmulReference(inp, weight, bias, n, c, oc) {
  const out = new Array(n * oc).fill(0);
  for (let row = 0; row < n; row++)
    for (let o = 0; o < oc; o++) {
      let sum = bias ? bias[o] : 0;
      for (let k = 0; k < c; k++) sum += inp[row * c + k] * weight[o * c + k];
      out[row * oc + o] = sum;
    }
  return out;
}

/** Waits until the page has found its backend, run the kernel check and restored the stored session. */
export async function waitReady(page, timeout = 60_000) {
  await page.waitForSelector('html[data-ready="true"]', { timeout });
}

/** Shows a panel by clicking its tab, as a person would. */
export async function openPanel(page, id) {
  await page.click(`#tab-${id}`);
  await page.waitForSelector(`#panel-${id}:not([hidden])`);
}

// ---- A tiny model for the training tests: char tokenizer on a short repetitive text, one layer.

export const TINY = { '#m-layers': 1, '#m-heads': 2, '#m-dmodel': 16, '#m-context': 16, '#m-ffn': 64 };
export const TEXT = 'abcabd abcabd abcabe abcabd. '.repeat(60);

/** `bpe: { vocab, pattern }` trains a byte-level BPE instead of the character tokenizer. */
export async function setUpTinyModel(page, text = TEXT, { bpe } = {}) {
  await openPanel(page, 'data');
  await page.fill('#user-text', text);
  await page.click('#use-text');
  await openPanel(page, 'tokenizer');
  await page.selectOption('#tok-kind', bpe ? 'bpe' : 'char');
  if (bpe) {
    await page.fill('#tok-vocab', String(bpe.vocab));
    await page.selectOption('#tok-pattern', bpe.pattern);
  }
  await page.click('#train-tokenizer');
  await page.waitForFunction((kind) => window.tp.store.tokenizer?.summary.kind === kind, bpe ? 'bpe' : 'char');
  await openPanel(page, 'model');
  for (const [id, v] of Object.entries(TINY)) await page.fill(id, String(v));
  await page.selectOption('#m-pos', 'learned');
  const status = await page.textContent('#model-status');
  if (status !== '') throw new Error(`the tiny model's settings were refused: ${status}`);
}


/** The ids of up to 12 greedy (temperature 0) tokens after `prompt`, generated in the Generate panel. */
export async function greedy(page, prompt) {
  await openPanel(page, 'generate');
  await page.fill('#g-prompt', prompt);
  await page.fill('#g-temp', '0');
  await page.fill('#g-max', '12');
  await page.evaluate(() => (window.tpGenerated = null));
  await page.click('#generate');
  await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
  return page.evaluate(() => window.tpGenerated.tokens.map((t) => t.id));
}
