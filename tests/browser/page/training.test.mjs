// The Training panel's settings: checked as you type, the learning-rate chart equals warmup + cosine decay
// computed here, and the token budget follows batch × accumulation × context. (The training loop and its
// loss chart are tested once the core has a model; until then the panel must say so.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

// The core's TrainOptions::lr_at: steps are 1-based; linear warmup, cosine decay to min_lr at the last step.
function expectedLr(step, { lr, minLr, warmup, steps }) {
  if (step <= warmup) return (lr * step) / warmup;
  if (step >= steps) return minLr;
  const progress = (step - warmup) / (steps - warmup);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
}

test('training settings: the learning-rate schedule, the token budget and refusals', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'training');
    await page.fill('#t-steps', '200');
    await page.fill('#t-lr', '0.01');
    await page.fill('#t-minlr', '0.001');
    await page.fill('#t-warmup', '20');
    const settings = { lr: 0.01, minLr: 0.001, warmup: 20, steps: 200 };
    const [series] = await page.evaluate(() => window.tpCharts.lr);
    assert.ok(series.points.length >= 100);
    for (const [step, lr] of series.points) assert.ok(Math.abs(lr - expectedLr(step, settings)) < 1e-12, `lr at step ${step}`);
    assert.deepEqual(series.points[0], [1, 0.0005], 'step 1 of the warmup is lr / warmup');
    assert.deepEqual(series.points.at(-1), [200, 0.001], 'the last step is at the final learning rate');
    const peak = Math.max(...series.points.map((p) => p[1]));
    assert.ok(Math.abs(peak - 0.01) < 1e-9);
    // The chart canvas is drawn.
    const inked = await page.$eval('#lr-chart', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 1000, `the lr chart has ${inked} drawn pixels`);

    await page.fill('#t-batch', '4');
    await page.fill('#t-accum', '3');
    const context = await page.evaluate(() => window.tp.store.model.blockSize);
    assert.equal(await page.evaluate(() => window.tpTrainCheck.tokensPerStep), 4 * 3 * context);
    assert.match(await page.textContent('#train-budget'), new RegExp(`Each step sees ${4 * 3 * context} tokens`));

    for (const [id, value, reason] of [['#t-warmup', '500', /warmup .* cannot be longer/], ['#t-lr', '0', /learning rate must be above 0/], ['#t-batch', '0', /batch must be a whole number/]]) {
      const before = await page.inputValue(id);
      await page.fill(id, value);
      assert.match(await page.textContent('#train-status'), reason);
      await page.fill(id, before);
      assert.equal(await page.textContent('#train-status'), '');
    }
    await screenshot(page, 'panel-training');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
