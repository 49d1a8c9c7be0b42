// The Fill the mask panel: a tiny masked-language model trained in the page fills each [MASK] with its top-k
// guesses and their probabilities, shows its bidirectional attention (a query sees the keys after it), masks a
// token when it is clicked or activated from the keyboard, never treats the text as markup, and says clearly that
// a causal model has no [MASK].
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

async function train(page, steps, { replacing = false } = {}) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-warmup': 2, '#t-batch': 8, '#t-eval': 100 })) await page.fill(id, String(v));
  await page.click('#train-start');
  if (replacing) await page.click('#confirm-fresh-start-confirm');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 120_000 });
}

async function fill(page, text) {
  await openPanel(page, 'fill-mask');
  await page.fill('#fill-text', text);
  await page.evaluate(() => (window.tpFillMask = null));
  await page.click('#fill-run');
  await page.waitForFunction(() => !document.querySelector('#fill-run').disabled && (window.tpFillMask || document.querySelector('#fill-message').textContent), null, { timeout: 60_000 });
}

test('a masked-language model fills the masks with top-k guesses and shows bidirectional attention', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // A causal model first: the panel says it has no [MASK], and [MASK] in the text is a clear error.
    await setUpTinyModel(page);
    await train(page, 2);
    await openPanel(page, 'fill-mask');
    assert.match(await page.textContent('#fill-no-model'), /causal objective.*no \[MASK\]/);
    await fill(page, 'abc[MASK]bd');
    assert.match(await page.textContent('#fill-message'), /causal objective.*no \[MASK\] token/);

    // The same settings with the masked-language objective.
    await openPanel(page, 'model');
    await page.selectOption('#m-objective', 'mlm');
    await train(page, 30, { replacing: true });
    assert.match(await page.textContent('#train-accuracy'), /Masked-token accuracy at step 30: \d+\.\d%/);
    await openPanel(page, 'fill-mask');
    assert.equal(await page.isHidden('#fill-no-model'), true);
    await page.fill('#fill-topk', '3');
    await fill(page, 'abc[MASK]bd ab');
    const view = await page.evaluate(() => window.tpFillMask);
    assert.equal(view.masks.length, 1);
    assert.equal(view.masks[0].position, 3);
    assert.equal(view.tokens[3], '[MASK]');
    const guesses = await page.$$eval('#fill-guess-0 li', (l) => l.map((li) => li.textContent));
    assert.equal(guesses.length, 3, 'three guesses, as asked');
    const probs = view.masks[0].predictions.map((p) => p.prob);
    assert.ok(probs.every((p, i) => p > 0 && p < 1 && (i === 0 || p <= probs[i - 1])), `most likely first: ${probs}`);
    assert.match(guesses[0], /\d+\.\d%/);
    // Bidirectional attention: row 0 gives weight to later keys.
    const { t, att } = view.attention;
    assert.equal(t, view.tokens.length);
    assert.ok(att.slice(1, t).reduce((a, b) => a + b, 0) > 0.01, 'position 0 attends to the positions after it');
    assert.ok(await page.isVisible('#fill-att-l0-h0 canvas'));

    // Keyboard: focus a token and press Enter to mask it; the guesses follow.
    await page.focus('#fill-tokens [data-position="1"]');
    await page.evaluate(() => (window.tpFillMask = null));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.tpFillMask && window.tpFillMask.masks.length === 2, null, { timeout: 60_000 });
    assert.equal(await page.inputValue('#fill-text'), 'a[MASK]c[MASK]bd ab');
    assert.deepEqual(await page.evaluate(() => window.tpFillMask.masks.map((m) => m.position)), [1, 3]);
    await screenshot(page, 'panel-fill-mask');

    // Markup in the text stays text (whether the tokenizer knows its characters or not).
    await fill(page, 'a<b>b</b>[MASK]');
    assert.equal(await page.$$eval('#panel-fill-mask b', (l) => l.length), 0);
    // Too long for the context: a clear error, nothing lost.
    await fill(page, 'abcabd[MASK]'.repeat(4));
    assert.match(await page.textContent('#fill-message'), /context of 16/);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
