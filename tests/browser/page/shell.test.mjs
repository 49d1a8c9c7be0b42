// The app shell: labelled, keyboard-operable panel tabs; the backend badge and switch; light and dark; phone width.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

test('tabs are keyboard-operable and every panel has a heading and an explanation', { skip: skipReason() }, async () => {
  const { page, consoleErrors, requests, url, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    const tabs = await page.$$eval('[role=tab]', (list) => list.map((t) => ({ id: t.id, text: t.textContent, controls: t.getAttribute('aria-controls') })));
    assert.ok(tabs.length >= 9, `expected the panels as tabs, got ${tabs.map((t) => t.text)}`);
    assert.equal(await page.getAttribute('#tab-data', 'aria-selected'), 'true', 'Data is the first panel');
    // Arrow keys move between tabs and show their panels; End and Home jump.
    await page.focus('#tab-data');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-tokenizer');
    assert.equal(await page.getAttribute('#tab-tokenizer', 'aria-selected'), 'true');
    assert.ok(await page.isVisible('#panel-tokenizer'));
    assert.ok(await page.isHidden('#panel-data'));
    await page.keyboard.press('End');
    assert.equal(await page.getAttribute('#tab-backend', 'aria-selected'), 'true');
    assert.ok(page.url().endsWith('#backend'), 'the hash names the panel');
    await page.keyboard.press('Home');
    assert.equal(await page.getAttribute('#tab-data', 'aria-selected'), 'true');
    for (const tab of tabs) {
      await openPanel(page, tab.id.slice(4));
      const panel = `#${tab.controls}`;
      assert.ok((await page.textContent(`${panel} h2`)).length > 0, `${tab.text} has a heading`);
      assert.ok((await page.textContent(`${panel} .explain`)).length > 40, `${tab.text} explains itself`);
    }
    // Every form control has a label.
    const unlabelled = await page.$$eval('input:not([type=file]), select, textarea', (list) =>
      list.filter((el) => !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.id || el.outerHTML.slice(0, 60)),
    );
    assert.deepEqual(unlabelled, []);
    // The page ran under the strict Content-Security-Policy the server sends.
    const csp = (await page.request.get(url)).headers()['content-security-policy'];
    assert.match(csp, /default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'/);
    assert.deepEqual(consoleErrors, [], 'no console errors (a CSP violation would be one)');
    assert.deepEqual(requests.filter((r) => !r.startsWith(url)), [], 'no requests leave the page origin');
  } finally {
    await close();
  }
});

test('on a software adapter the page starts on the CPU and says why; the switch moves to WebGPU and back', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true, path: '#backend' });
  try {
    await waitReady(page);
    const fallback = await page.evaluate(() => window.tpAdapter.isFallback);
    assert.equal(fallback, true, 'SwiftShader is a fallback adapter');
    assert.equal(await page.textContent('#backend-badge'), 'CPU (WebAssembly)');
    assert.match(await page.textContent('#backend-why'), /only a software adapter, slower than the CPU path/);
    assert.equal(await page.evaluate(() => window.tpKernelCheck.backend), 'cpu');
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tpKernelCheck?.backend === 'webgpu');
    assert.equal(await page.textContent('#backend-badge'), 'WebGPU');
    assert.match(await page.textContent('#backend-why'), /software adapter/);
    await page.selectOption('#backend-select', 'cpu');
    await page.waitForFunction(() => window.tpKernelCheck?.backend === 'cpu');
    assert.equal(await page.textContent('#backend-badge'), 'CPU (WebAssembly)');
    assert.equal(await page.getAttribute('#kernel-status', 'data-status'), 'pass');
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tpKernelCheck?.backend === 'webgpu');
    assert.equal(await page.textContent('#backend-badge'), 'WebGPU');
    await screenshot(page, 'panel-backend');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('without WebGPU the switch offers only the CPU and says why', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    assert.equal(await page.textContent('#backend-badge'), 'CPU (WebAssembly)');
    assert.match(await page.textContent('#backend-why'), /no WebGPU|no adapter/);
    assert.equal(await page.$eval('#backend-select option[value=webgpu]', (o) => o.disabled), true);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('dark mode follows the system and the toggle overrides it, remembered across reloads', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, colorScheme: 'dark', path: '#positions' });
  try {
    await waitReady(page);
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const dark = await background();
    assert.equal(dark, 'rgb(22, 23, 26)', 'the dark palette follows prefers-color-scheme');
    await screenshot(page, 'shell-dark');
    await page.click('#theme-toggle');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'light');
    assert.equal(await background(), 'rgb(247, 247, 245)');
    await page.reload();
    await waitReady(page);
    assert.equal(await page.getAttribute('html', 'data-theme'), 'light', 'the choice survives a reload');
    await page.click('#theme-toggle');
    assert.equal(await background(), 'rgb(22, 23, 26)');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    // A third press returns to Auto: the system decides again, and a reload keeps Auto.
    await page.click('#theme-toggle');
    assert.equal(await page.getAttribute('html', 'data-theme'), null);
    assert.equal(await page.textContent('#theme-toggle'), '◐ Auto');
    assert.match(await page.getAttribute('#theme-toggle', 'aria-label'), /follows the system/);
    await page.reload();
    await waitReady(page);
    assert.equal(await page.getAttribute('html', 'data-theme'), null);
    assert.equal(await background(), 'rgb(22, 23, 26)');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

const PANELS = ['data', 'tokenizer', 'model', 'training', 'generate', 'attention', 'fill-mask', 'finetune', 'seq2seq', 'positions', 'embeddings', 'session', 'backend'];

/** Opens every panel at a phone's `width`: nothing wider than the screen, no formula cut off (it wraps instead of
 *  hiding its end behind a scroll bar), the quick start inside the screen. Screenshots the panels in `shots`. */
async function everyPanelFits(page, width, shots = [], prefix = '') {
  for (const id of PANELS) {
    await openPanel(page, id);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the ${id} panel is ${overflow}px wider than the phone screen`);
    const clipped = await page.$$eval(`#panel-${id} .formula`, (list) => list.filter((f) => f.scrollWidth > f.clientWidth + 1).map((f) => f.textContent));
    assert.deepEqual(clipped, [], `formulas cut off in ${id}`);
    const guide = await page.$eval('#quick-start', (el) => el.getBoundingClientRect().right);
    assert.ok(guide <= width, `the quick start fits (${guide})`);
    if (shots.includes(id)) await screenshot(page, `${prefix}${id}`);
  }
}

test('at phone width the tabs scroll in a row and nothing overflows the screen', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, viewport: { width: 375, height: 740 } });
  try {
    await waitReady(page);
    await everyPanelFits(page, 375);
    const direction = await page.$eval('[role=tablist]', (el) => getComputedStyle(el).flexDirection);
    assert.equal(direction, 'row');
    await openPanel(page, 'model');
    await screenshot(page, 'shell-phone');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('at 390 px in dark mode every panel fits: no overflow, no clipped formula, the quick start wraps', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  try {
    await waitReady(page);
    await everyPanelFits(page, 390, ['data', 'model', 'training', 'session'], 'phone-dark-');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
