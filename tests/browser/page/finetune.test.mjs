// The Fine-tune panel: an encoder (masked-language model) pre-trained in the page on the built-in stories gets a
// classification head and is fine-tuned on the template task in the worker, beside the same model from new weights;
// both accuracy curves share one chart with the same evaluation steps, the progress bar fills, the final accuracies
// show as numbers, and "classify this text" gives every class's probability, treating the text as text. The panel
// is used from the keyboard; a causal model gets a sentence instead of a Start button; Stop ends a long run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, TINY, waitReady } from '../harness.mjs';

async function train(page, steps, { replacing = false } = {}) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-warmup': 2, '#t-batch': 8, '#t-eval': 100 })) await page.fill(id, String(v));
  await page.click('#train-start');
  if (replacing) await page.click('#confirm-fresh-start-confirm');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 120_000 });
}

test('an encoder fine-tuned on the template task beside the same model from new weights, in the worker', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'finetune');
    assert.match(await page.textContent('#ft-no-model'), /No model yet/);
    assert.equal(await page.isDisabled('#ft-start'), true);
    assert.match(await page.textContent('#ft-task-info'), /lost, walk, gift, week/);

    // The built-in stories, a character tokenizer, a tiny causal model first: no head for a decoder.
    await openPanel(page, 'data');
    await page.selectOption('#corpus-name', 'stories');
    await page.click('#generate-corpus');
    await page.waitForFunction(() => window.tp.store.corpus?.name === 'stories' && !document.querySelector('#generate-corpus').disabled);
    await openPanel(page, 'tokenizer');
    await page.selectOption('#tok-kind', 'char');
    await page.click('#train-tokenizer');
    await page.waitForFunction(() => window.tp.store.tokenizer?.summary.kind === 'char');
    await openPanel(page, 'model');
    for (const [id, v] of Object.entries({ ...TINY, '#m-dmodel': 32, '#m-context': 32 })) await page.fill(id, String(v));
    await train(page, 2);
    await openPanel(page, 'finetune');
    assert.match(await page.textContent('#ft-no-model'), /causal.*classification head goes on an encoder/);
    assert.equal(await page.isDisabled('#ft-start'), true);

    // The masked-language objective: an encoder, pre-trained briefly.
    await openPanel(page, 'model');
    await page.selectOption('#m-objective', 'mlm');
    await train(page, 40, { replacing: true });
    await openPanel(page, 'finetune');
    assert.equal(await page.isHidden('#ft-no-model'), true);
    for (const [id, v] of Object.entries({ '#ft-steps': 40, '#ft-examples': 128, '#ft-every': 10 })) await page.fill(id, String(v));
    // From the keyboard: focus Fine-tune and press Enter.
    await page.focus('#ft-start');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.tpFinetune, null, { timeout: 180_000 });
    const summary = await page.evaluate(() => window.tpFinetune);
    assert.equal(summary.stopped, false);
    assert.deepEqual(summary.classes, ['lost', 'walk', 'gift', 'week']);
    // Both curves in one chart, evaluated at the same steps.
    const series = await page.evaluate(() => window.tpCharts['ft-chart']);
    assert.equal(series.length, 2);
    assert.deepEqual(series.map((s) => s.points.map(([x]) => x)), [[10, 20, 30, 40], [10, 20, 30, 40]]);
    for (const s of series) assert.ok(s.points.every(([, y]) => y >= 0 && y <= 1), JSON.stringify(s.points));
    assert.equal(summary.pretrained.accuracy, series[0].points.at(-1)[1]);
    assert.ok(await page.isVisible('#ft-chart'));
    assert.equal(await page.$eval('#ft-progress', (p) => p.value === p.max && p.max === 80), true);
    assert.match(await page.textContent('#ft-acc-pretrained'), /^\d+\.\d% \(\d+\.\d s\)$/);
    assert.match(await page.textContent('#ft-acc-scratch'), /^\d+\.\d% \(\d+\.\d s\)$/);
    assert.equal(await page.textContent('#ft-acc-chance'), '25.0%');
    assert.match(await page.textContent('#ft-status'), /^Done: validation accuracy/);
    assert.equal(await page.isDisabled('#ft-start'), false);

    // Classify a text (Ctrl+Enter in the box): every class with its probability; markup stays text.
    await page.fill('#ft-text', '<b>Mira</b> finds a <img src=x onerror=alert(1)> gift on Monday.');
    await page.focus('#ft-text');
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction(() => window.tpClassify, null, { timeout: 60_000 });
    const view = await page.evaluate(() => window.tpClassify);
    assert.deepEqual(view.probs.map((p) => p.label), ['lost', 'walk', 'gift', 'week']);
    assert.ok(Math.abs(view.probs.reduce((a, p) => a + p.prob, 0) - 1) < 1e-4);
    assert.equal(view.truncated, true);
    const items = await page.$$eval('#ft-probs li', (l) => l.map((li) => [li.dataset.label, li.textContent]));
    assert.equal(items.length, 4);
    assert.ok(items.every(([, t]) => /\d+\.\d%/.test(t)), JSON.stringify(items));
    assert.match(await page.textContent('#ft-classify-message'), new RegExp(`Most likely: ${view.label}\\..*first 32 tokens`));
    assert.equal(await page.$$eval('#panel-finetune b, #panel-finetune img', (l) => l.length), 0);
    await screenshot(page, 'panel-finetune');
    // An empty text: a clear message, nothing else lost.
    await page.fill('#ft-text', '');
    await page.click('#ft-classify');
    await page.waitForFunction(() => document.querySelector('#ft-classify-message').dataset.kind === 'error');
    assert.match(await page.textContent('#ft-classify-message'), /the text is empty/);

    // Stop during a long run: the status says nothing was kept, Fine-tune is back, and the classifier of the last
    // finished run still answers.
    await page.fill('#ft-steps', '5000');
    await page.click('#ft-start');
    await page.waitForFunction(() => document.querySelector('#ft-progress').value > 0, null, { timeout: 60_000 });
    assert.equal(await page.isDisabled('#ft-start'), true);
    assert.equal(await page.isDisabled('#ft-classify'), true, 'no classifying while the worker fine-tunes');
    await page.click('#ft-stop');
    await page.waitForFunction(() => /^Stopped/.test(document.querySelector('#ft-status').textContent), null, { timeout: 60_000 });
    assert.equal(await page.isDisabled('#ft-start'), false);
    await page.fill('#ft-text', 'Mira walks up the hill.');
    await page.evaluate(() => (window.tpClassify = null));
    await page.click('#ft-classify');
    await page.waitForFunction(() => window.tpClassify, null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => window.tpClassify.truncated), false);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
