// The foundation: the page loads, finds WebGPU on SwiftShader, runs the matmul kernel from the wasm build and
// gets the numbers this test computes itself. With WebGPU disabled, the page says so, uses the CPU path, and
// its kernel check compares the CPU's fast matmul with the reference (saying that no GPU was checked).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matmulReference, openPlayground, screenshot, skipReason } from '../harness.mjs';

function assertMatchesReference(check) {
  const expected = matmulReference(check.inp, check.weight, check.bias, check.n, check.c, check.oc);
  assert.equal(check.out.length, expected.length);
  check.out.forEach((value, i) => {
    assert.ok(Math.abs(value - expected[i]) <= 1e-5 + 1e-5 * Math.abs(expected[i]), `out[${i}] = ${value}, expected ${expected[i]}`);
  });
}

test('the page runs the matmul kernel on WebGPU and matches the reference', { skip: skipReason() }, async () => {
  const { page, consoleErrors, requests, url, close } = await openPlayground({ webgpu: true, path: '#backend' });
  try {
    await page.waitForSelector('html[data-ready="true"]', { timeout: 60_000 });
    // On a software adapter the page starts on the CPU (faster there); choose WebGPU as a person would.
    if ((await page.textContent('#backend-badge')) !== 'WebGPU') await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tpKernelCheck?.backend === 'webgpu', null, { timeout: 60_000 });
    const adapter = await page.evaluate(() => window.tpAdapter);
    const check = await page.evaluate(() => window.tpKernelCheck);
    console.log(`adapter: ${JSON.stringify({ vendor: adapter.vendor, architecture: adapter.architecture, fallback: adapter.isFallback })}`);
    console.log(`kernel check on ${check.backend}: max |diff| ${check.maxAbsDiff}`);
    assert.equal(adapter.available, true, 'headless Chromium with --enable-unsafe-webgpu offers an adapter');
    assert.equal(check.backend, 'webgpu');
    assert.equal(await page.getAttribute('#kernel-status', 'data-status'), 'pass');
    assert.equal(await page.textContent('#backend-badge'), 'WebGPU');
    assert.ok(await page.isVisible('#adapter-table'));
    assertMatchesReference(check);
    await screenshot(page, 'foundation-webgpu');
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(requests.filter((r) => !r.startsWith(url)), [], 'no requests leave the page origin');
  } finally {
    await close();
  }
});

test('without WebGPU the page says so and runs the CPU path', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, path: '#backend' });
  try {
    await page.waitForSelector('#kernel-status', { timeout: 60_000 });
    assert.ok(await page.isVisible('#webgpu-missing'), 'the page says WebGPU is missing');
    assert.equal(await page.textContent('#backend-badge'), 'CPU (WebAssembly)');
    const check = await page.evaluate(() => window.tpKernelCheck);
    assert.equal(check.backend, 'cpu');
    assertMatchesReference(check);
    // On the CPU the check compares two different kernels (the model's fast one against the reference loops),
    // never the reference with itself, and says that no GPU was checked.
    assert.equal(check.kernel, 'matmul_forward_fast_cpu');
    const summary = await page.textContent('#kernel-summary');
    assert.match(summary, /matmul_forward_fast_cpu/);
    assert.match(summary, /against the readable CPU reference \(matmul_forward_cpu\)/);
    const noGpu = await page.textContent('#kernel-no-gpu');
    assert.match(noGpu, /No GPU kernel was checked: there is no WebGPU here \(.*navigator\.gpu/, 'with the browser\'s reason');
    await screenshot(page, 'foundation-cpu');
    // A phone in dark mode: the panel fits the width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at 390 px');
    await screenshot(page, 'panel-backend-390-dark');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
