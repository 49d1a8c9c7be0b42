// The Model panel: the parameter count follows the settings as you type (checked against GPT-2 small's
// published 124,439,808 parameters, adjusted to this vocabulary), and impossible configs are refused with the reason.
// The Positions panel: the sinusoidal matrix the page draws equals the formula computed here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

async function set(page, id, value) {
  await page.fill(id, String(value));
}

/** The parameter count the panel shows once it equals `expected` (the core counts it in the worker). */
async function paramCount(page, expected) {
  await page
    .waitForFunction((n) => Number(document.querySelector('#param-count')?.dataset.value) === n, expected, { timeout: 10_000 })
    .catch(() => undefined);
  return Number(await page.getAttribute('#param-count', 'data-value'));
}

test('the parameter count updates as you type and bad configs are refused with the reason', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await page.evaluate(() => window.tp.store.set('tokenizer', null));
    await openPanel(page, 'model');
    // The core counts (ModelConfig::param_count, through the worker). GPT-2 small: L=12, NH=12, C=768, T=1024, FFN 3072, learned positions, tied LM head: 124,439,808 parameters
    // with V=50257. Here the vocabulary is 256 bytes, so subtract (50257 - 256) * 768.
    for (const [id, v] of [['#m-layers', 12], ['#m-heads', 12], ['#m-dmodel', 768], ['#m-context', 1024], ['#m-ffn', 3072]]) await set(page, id, v);
    await page.selectOption('#m-pos', 'learned');
    const learned = 124_439_808 - (50257 - 256) * 768;
    assert.equal(await paramCount(page, learned), learned);
    // Sinusoidal positions have no parameters: T*C fewer.
    await page.selectOption('#m-pos', 'sinusoidal');
    const sinusoidal = learned - 1024 * 768;
    assert.equal(await paramCount(page, sinusoidal), sinusoidal);
    // Typing changes it at once: one layer less is 12C^2 + 13C fewer (with F = 4C).
    await set(page, '#m-layers', 11);
    const elevenLayers = sinusoidal - (12 * 768 * 768 + 13 * 768);
    assert.equal(await paramCount(page, elevenLayers), elevenLayers);
    assert.equal(await page.textContent('#model-status'), '');

    const refusals = [
      [['#m-heads', 5], /must divide evenly among the 5 heads/],
      [['#m-layers', 99], /from 1 to 12/],
      [['#m-ffn', 1000], /multiple of d_model/],
      [['#m-dmodel', 0], /from 8 to 1024/],
    ];
    for (const [[id, value], reason] of refusals) {
      // Start each from a small valid config.
      for (const [i, v] of [['#m-layers', 2], ['#m-heads', 4], ['#m-dmodel', 64], ['#m-context', 64], ['#m-ffn', 256]]) await set(page, i, v);
      assert.equal(await page.textContent('#model-status'), '');
      await set(page, id, value);
      const status = await page.textContent('#model-status');
      assert.match(status, /^Cannot build this model: /);
      assert.match(status, reason, `${id}=${value}`);
      assert.equal(await page.$('#param-count'), null, 'no size is shown for a refused config');
    }
    await set(page, '#m-dmodel', 60);
    await set(page, '#m-ffn', 240);
    await page.selectOption('#m-pos', 'rope');
    assert.match(await page.textContent('#model-status'), /RoPE .* must be even/);
    await set(page, '#m-dmodel', 64);
    await set(page, '#m-heads', 4);
    await set(page, '#m-ffn', 256);
    assert.equal(await page.textContent('#model-status'), '');
    await screenshot(page, 'panel-model');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('the sinusoidal encoding drawn equals the formula for the model settings', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'model');
    await set(page, '#m-context', 48);
    await set(page, '#m-dmodel', 32);
    await set(page, '#m-ffn', 128);
    await openPanel(page, 'positions');
    const pe = await page.evaluate(() => window.tpSinusoidal);
    assert.equal(pe.positions, 48);
    assert.equal(pe.dims, 32);
    for (let pos = 0; pos < 48; pos++)
      for (let i = 0; i < 32; i++) {
        const angle = pos / 10000 ** ((2 * Math.floor(i / 2)) / 32);
        const expected = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        assert.ok(Math.abs(pe.values[pos * 32 + i] - expected) < 1e-6, `PE[${pos}, ${i}]`);
      }
    // Cosine similarity of position vectors: equal to the test's, 1 on the diagonal, and a function of the
    // distance only (the same along every diagonal).
    const T = 48;
    const d = 32;
    const row = (p) => pe.values.slice(p * d, (p + 1) * d);
    const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    for (let a = 0; a < T; a += 5)
      for (let b = 0; b < T; b += 3) {
        const expected = dot(row(a), row(b)) / Math.sqrt(dot(row(a), row(a)) * dot(row(b), row(b)));
        assert.ok(Math.abs(pe.similarity[a * T + b] - expected) < 1e-5, `sim[${a}, ${b}]`);
      }
    for (let a = 0; a + 7 < T; a++) assert.ok(Math.abs(pe.similarity[a * T + a + 7] - pe.similarity[7]) < 1e-5, 'depends on the distance only');
    // PCA: two orthonormal directions, each an eigenvector of the covariance, the first the largest.
    const mean = Array.from({ length: d }, (_, j) => pe.values.filter((_, k) => k % d === j).reduce((s, x) => s + x, 0) / T);
    const centred = Array.from({ length: T }, (_, p) => row(p).map((x, j) => x - mean[j]));
    const cov = (u) => Array.from({ length: d }, (_, a) => centred.reduce((s, r) => s + r[a] * dot(r, u), 0) / T);
    const [u1, u2] = pe.pca.axes;
    assert.ok(Math.abs(dot(u1, u1) - 1) < 1e-9 && Math.abs(dot(u2, u2) - 1) < 1e-9 && Math.abs(dot(u1, u2)) < 1e-6, 'orthonormal axes');
    for (const [u, lambda] of [[u1, pe.pca.variances[0]], [u2, pe.pca.variances[1]]]) {
      const cu = cov(u);
      cu.forEach((x, j) => assert.ok(Math.abs(x - lambda * u[j]) < 1e-4, 'C u = λ u'));
    }
    // The test's own power iteration finds the same largest variance.
    let v = Array.from({ length: d }, (_, j) => Math.cos(j + 1));
    let lambda = 0;
    for (let it = 0; it < 2000; it++) {
      const w = cov(v);
      lambda = Math.sqrt(dot(w, w));
      v = w.map((x) => x / lambda);
    }
    assert.ok(Math.abs(lambda - pe.pca.variances[0]) < 1e-4 * lambda, `largest variance ${pe.pca.variances[0]} vs ${lambda}`);
    assert.ok(pe.pca.variances[0] >= pe.pca.variances[1]);
    pe.pca.points.forEach(([x, y], p) => assert.ok(Math.abs(x - dot(centred[p], u1)) < 1e-6 && Math.abs(y - dot(centred[p], u2)) < 1e-6));
    // The canvas holds the picture: one pixel per value, not all the same color.
    const distinct = await page.$eval('#sinusoidal-figure canvas', (canvas) => {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const colors = new Set();
      for (let i = 0; i < data.length; i += 4) colors.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
      return { width: canvas.width, height: canvas.height, colors: colors.size };
    });
    assert.deepEqual([distinct.width, distinct.height], [32, 48]);
    assert.ok(distinct.colors > 50, `the heatmap has ${distinct.colors} colors`);
    await screenshot(page, 'panel-positions');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
