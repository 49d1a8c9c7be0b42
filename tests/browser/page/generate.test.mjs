// The Generate panel's settings: what temperature, top-k and top-p do to a next-token distribution, checked
// against a reference computed here; bad settings refused. (Streaming generation is tested once the core has
// a model; until then the panel must say so.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

function reference(logits, { temperature, topK, topP }) {
  const e = logits.map((l) => Math.exp(l / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  const probs = e.map((x) => x / sum);
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  const top = topK > 0 ? order.slice(0, topK) : order;
  const massK = top.reduce((a, i) => a + probs[i], 0);
  const kept = new Set();
  let c = 0;
  for (const i of top) {
    kept.add(i);
    c += probs[i] / massK;
    if (c >= topP - 1e-12) break;
  }
  const mass = [...kept].reduce((a, i) => a + probs[i], 0);
  return { probs, final: probs.map((p, i) => (kept.has(i) ? p / mass : 0)) };
}

test('sampling settings reshape the next-token distribution as the formulas say', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'generate');
    const cases = [
      { temperature: 1, topK: 0, topP: 1 },
      { temperature: 0.5, topK: 3, topP: 1 },
      { temperature: 1.5, topK: 0, topP: 0.8 },
      { temperature: 1, topK: 5, topP: 0.6 },
    ];
    for (const s of cases) {
      await page.fill('#g-temp', String(s.temperature));
      await page.fill('#g-topk', String(s.topK));
      await page.fill('#g-topp', String(s.topP));
      const view = await page.evaluate(() => window.tpSampling);
      const ref = reference(view.logits, s);
      view.probs.forEach((p, i) => assert.ok(Math.abs(p - ref.probs[i]) < 1e-12, `p[${i}] for ${JSON.stringify(s)}`));
      view.final.forEach((p, i) => assert.ok(Math.abs(p - ref.final[i]) < 1e-12, `final[${i}] for ${JSON.stringify(s)}`));
      const shown = await page.$$eval('#sampling-table td[data-col=final]', (l) => l.map((td) => td.textContent));
      shown.forEach((text, i) => assert.equal(text, ref.final[i] > 0 ? ref.final[i].toFixed(3) : 'filtered'));
      if (s.topK === 3) assert.equal(ref.final.filter((p) => p > 0).length, 3, 'top-k 3 keeps three tokens');
    }
    // Temperature 0 is greedy: all the probability on the likeliest token.
    await page.fill('#g-temp', '0');
    await page.fill('#g-topk', '0');
    await page.fill('#g-topp', '1');
    const greedy = await page.evaluate(() => window.tpSampling.final);
    assert.deepEqual(greedy, [1, 0, 0, 0, 0, 0, 0, 0]);
    await page.fill('#g-temp', '0.8');
    for (const [id, value, reason] of [['#g-topp', '0', /top-p must be above 0/], ['#g-temp', '-1', /temperature must be/], ['#g-max', '0', /max tokens/]]) {
      const before = await page.inputValue(id);
      await page.fill(id, value);
      assert.match(await page.textContent('#gen-status'), reason);
      await page.fill(id, before);
      assert.equal(await page.textContent('#gen-status'), '');
    }
    await page.fill('#g-topk', '4');
    await screenshot(page, 'panel-generate');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
