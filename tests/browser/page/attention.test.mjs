// The Attention panel's step-by-step view: every number shown (scores, scaled, mask, softmax, weighted sum)
// equals a reference this test computes from the q, k and v the page exposes; hovering a query token shades
// the text by its weights. (With a model in the core, the same view shows the model's numbers.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

function reference({ q, k, v, query }) {
  const dk = q.length;
  const scores = k.map((row) => row.reduce((s, x, i) => s + x * q[i], 0));
  const scaled = scores.map((s) => s / Math.sqrt(dk));
  const masked = scaled.map((s, j) => (j > query ? -Infinity : s));
  const max = Math.max(...masked);
  const e = masked.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
  const sum = e.reduce((a, b) => a + b, 0);
  const weights = e.map((x) => x / sum);
  const out = q.map((_, d) => weights.reduce((s, w, j) => s + w * v[j][d], 0));
  return { scores, scaled, masked, weights, out };
}

const shown = (x) => (x === -Infinity ? '−∞' : x.toFixed(3).replace('-', '−'));

test('the one-step attention view shows numbers equal to a reference computed from its q, k, v', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, path: '#attention' });
  try {
    await waitReady(page);
    await openPanel(page, 'attention');
    for (const query of [5, 2, 0]) {
      await page.selectOption('#attention-query', String(query));
      const step = await page.evaluate(() => window.tpAttentionStep);
      assert.equal(step.query, query);
      const ref = reference(step);
      for (const key of ['scores', 'scaled', 'weights', 'out'])
        ref[key].forEach((x, i) => assert.ok(Math.abs(step[key][i] - x) < 1e-12, `${key}[${i}] at query ${query}`));
      step.masked.forEach((x, j) => assert.equal(x, ref.masked[j]));
      assert.ok(Math.abs(step.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'the weights add up to 1');
      // What is on screen is what was computed.
      const cells = await page.$$eval('#attention-steps tbody tr', (rows) =>
        rows.map((r) => Object.fromEntries([...r.querySelectorAll('td[data-step]')].map((td) => [td.dataset.step, td.firstChild.textContent]))),
      );
      cells.forEach((cell, j) => {
        assert.equal(cell.score, shown(ref.scores[j]));
        assert.equal(cell.scaled, shown(ref.scaled[j]));
        assert.equal(cell.masked, shown(ref.masked[j]));
        assert.equal(cell.weight, shown(ref.weights[j]));
      });
      assert.equal(await page.textContent('#attention-out'), `[${ref.out.map(shown).join(', ')}]`);
      if (query === 0) assert.equal(step.weights[0], 1, 'the first token can only attend to itself');
    }
    // Hovering a query token shades the text by its weights.
    await page.hover('#attend-text .tok[data-query="3"]');
    const shades = await page.$$eval('#attend-text .tok', (l) => l.map((s) => Number(s.dataset.weight)));
    const step3 = reference({ ...(await page.evaluate(() => window.tpAttentionStep)), query: 3 });
    assert.equal(shades.length, 6);
    assert.deepEqual(shades.slice(4), [0, 0], 'tokens after the query get no attention');
    assert.ok(Math.abs(shades.slice(0, 4).reduce((a, b) => a + b, 0) - 1) < 0.01);
    assert.ok(step3);
    assert.match(await page.textContent('#attend-note'), /attends to/);
    // Click the heatmap to enlarge it; Escape closes.
    await page.click('#attention-example-map canvas');
    await page.waitForSelector('dialog#enlarged[open]');
    const big = await page.$eval('dialog#enlarged canvas', (c) => ({ w: c.width, h: c.height, shown: c.getBoundingClientRect().width }));
    assert.deepEqual([big.w, big.h], [6, 6]);
    assert.ok(big.shown > 300, `the enlarged heatmap is ${big.shown}px wide`);
    await screenshot(page, 'attention-enlarged');
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog#enlarged', { state: 'detached' });
    await page.selectOption('#attention-query', '5');
    await screenshot(page, 'panel-attention');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
