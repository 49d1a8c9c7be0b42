// The path a newcomer takes through the page (issue 16): a quick start and a next step on every panel; Start on a
// first visit trains (a character tokenizer made for it, said so); what would lose a trained model asks first
// (keyboard-usable dialogs); a new run's progress starts at once; after a reload Save & load tells the truth at
// once, including the weights that came back, and "Keep the trained weights" keeps its value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

const PANELS = ['data', 'tokenizer', 'model', 'training', 'generate', 'attention', 'positions', 'embeddings', 'session', 'backend'];

/** Sets the Training panel's numbers (a short, quick run) without starting it. */
async function shortRun(page, steps) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 1, '#t-batch': 4, '#t-accum': 1, '#t-eval': 1000 })) await page.fill(id, String(v));
}

const waitDone = (page, runs) =>
  page.waitForFunction((n) => window.tpTraining?.runs >= n && window.tpTraining.state !== 'running' && !document.querySelector('#train-start').disabled, runs, { timeout: 120_000 });

/** Whether IndexedDB holds trained weights (they are written a moment after a run ends): a page function. */
function storedWeightsInPage() {
  return new Promise((resolve) => {
    const open = indexedDB.open('transformer-playground');
    open.onsuccess = () => {
      const get = open.result.transaction('session').objectStore('session').get('model-weights');
      get.onsuccess = () => resolve(get.result instanceof Uint8Array && get.result.length > 1000);
    };
  });
}
const storedWeights = (page) => page.evaluate(storedWeightsInPage);

/** Waits until IndexedDB holds “Keep the trained weights” as `value` (saved a moment after the click). */
const keepSaved = (page, value) =>
  page.waitForFunction((expected) => new Promise((resolve) => {
    const open = indexedDB.open('transformer-playground');
    open.onsuccess = () => {
      const get = open.result.transaction('session').objectStore('session').get('training-keep');
      get.onsuccess = () => resolve(get.result === expected);
    };
  }), value);

test('a first visit: the quick start, a next step on every panel, and Start trains with a character tokenizer made for it', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // The quick start: five steps; the text (the built-in stories) is already there.
    const steps = await page.$$eval('#quick-start .quick-step', (l) => l.map((b) => [b.dataset.step, b.dataset.done]));
    assert.deepEqual(steps, [['data', 'true'], ['tokenizer', 'false'], ['model', 'false'], ['training', 'false'], ['generate', 'false']]);
    assert.equal(await page.getAttribute('#quick-start [data-step=data]', 'aria-current'), 'step');
    // Every panel but the last says what comes next, with a button to it.
    for (const id of PANELS.slice(0, -1)) {
      await openPanel(page, id);
      const text = await page.textContent(`#next-${id}`);
      assert.ok(text.length > 20 && (await page.isVisible(`#next-${id}`)), `${id} shows a next step: ${text}`);
    }
    assert.match(await page.textContent('#next-generate'), /no model to generate with yet/);
    // The Data panel's next step opens the Tokenizer panel.
    await openPanel(page, 'data');
    await page.click('#next-data button');
    assert.ok(await page.isVisible('#panel-tokenizer'));
    assert.match(await page.textContent('#next-tokenizer'), /Start in Training makes a character tokenizer/);
    // The quick start's Training step goes straight there: no tokenizer yet, and Start is enabled and says what it will do.
    await page.click('#quick-start [data-step=training]');
    assert.ok(await page.isVisible('#panel-training'));
    assert.equal(await page.evaluate(() => window.tp.store.tokenizer), null);
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), false, 'Start is enabled on a first visit');
    assert.match(await page.textContent('#train-tokenizer-note'), /Start makes a character tokenizer/);
    // The default model on the stories, a few steps: it trains.
    await shortRun(page, 3);
    await page.click('#train-start');
    await waitDone(page, 1);
    const status = await page.textContent('#train-status');
    assert.match(status, /^Done: 3 steps on the CPU\./, status);
    const tokenizer = await page.evaluate(() => window.tp.store.tokenizer);
    const storiesChars = await page.evaluate(() => new Set(window.tp.store.corpus.text).size);
    assert.equal(tokenizer.summary.kind, 'char');
    assert.equal(tokenizer.auto.corpus, 'stories');
    assert.match(await page.textContent('#train-tokenizer-note'), new RegExp(`character tokenizer Start made \\(${tokenizer.summary.vocabSize} tokens`));
    assert.equal(await page.evaluate(() => window.tpTraining.phases[0].steps.length), 3);
    // The quick start ticks what is done; the Training panel's next step is Generate.
    const ticked = await page.$$eval('#quick-start .quick-step', (l) => l.filter((b) => b.dataset.done === 'true').map((b) => b.dataset.step));
    assert.deepEqual(ticked, ['data', 'tokenizer', 'model', 'training']);
    assert.equal(await page.getAttribute('#next-training button', 'data-target'), 'generate');
    await screenshot(page, 'flow-first-run');
    await page.click('#next-training button');
    assert.ok(await page.isVisible('#panel-generate'));
    assert.equal(await page.getAttribute('#quick-start [data-step=generate]', 'data-done'), 'true');
    // Another text: Start makes the automatic tokenizer again for it (the old one lacks its characters).
    await openPanel(page, 'data');
    await page.fill('#user-text', 'xyz! xyz? '.repeat(200));
    await page.click('#use-text');
    await shortRun(page, 2);
    await page.click('#train-start');
    await page.click('#confirm-fresh-start-confirm');
    await waitDone(page, 2);
    assert.match(await page.textContent('#train-status'), /^Done: 2 steps/);
    const remade = await page.evaluate(() => window.tp.store.tokenizer);
    assert.equal(remade.auto.corpus, 'pasted text', 'made again for the new text');
    // The same special tokens, and one token for each of x y z ! ? and the space.
    assert.equal(remade.summary.vocabSize - 6, tokenizer.summary.vocabSize - storiesChars);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('Start is disabled with the reason instead of enabled and then refusing', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), false);
    await page.fill('#t-warmup', '100000');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), true);
    assert.match(await page.textContent('#train-status'), /Cannot train with these settings: warmup/);
    await page.fill('#t-warmup', '30');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), false);
    assert.equal(await page.textContent('#train-status'), '');
    // A model the Model panel cannot build (heads not dividing d_model): not the last good one in secret.
    await openPanel(page, 'model');
    await page.fill('#m-heads', '5');
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), true);
    assert.match(await page.textContent('#train-status'), /the Model panel's settings cannot be built: .*head/);
    await openPanel(page, 'model');
    await page.fill('#m-heads', '4');
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), false);
    // No text at all.
    await page.evaluate(() => window.tp.store.set('corpus', null));
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), true);
    assert.match(await page.textContent('#train-status'), /there is no text: choose one in the Data panel/);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('Start without Keep, Reset and Forget ask first, by keyboard too; a new run shows its own progress at once', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await shortRun(page, 5);
    await page.click('#train-start');
    await waitDone(page, 1);
    assert.match(await page.textContent('#train-progress-text'), /step 5 \/ 5/);
    const trained = await page.evaluate(() => JSON.stringify(window.tpTraining.phases));

    // Start without “Keep the trained weights”: a dialog, focus on Cancel; Escape keeps the model.
    assert.equal(await page.isChecked('#t-keep'), false);
    await page.click('#train-start');
    await page.waitForSelector('#confirm-fresh-start[open]');
    assert.equal(await page.getAttribute('#confirm-fresh-start', 'role'), 'alertdialog');
    assert.match(await page.textContent('#confirm-fresh-start'), /replaces the model you have \([\d,]+ parameters, trained for 5 steps\)/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-fresh-start-cancel');
    await screenshot(page, 'flow-confirm-start');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#confirm-fresh-start', { state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'train-start', 'focus returns to Start');
    assert.equal(await page.evaluate(() => window.tpTraining.runs), 1, 'nothing started');
    assert.equal(await page.evaluate(() => JSON.stringify(window.tpTraining.phases)), trained, 'the model and its chart are kept');
    // Enter on the focused Cancel keeps it too.
    await page.click('#train-start');
    await page.waitForSelector('#confirm-fresh-start[open]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#confirm-fresh-start', { state: 'detached' });
    assert.equal(await page.evaluate(() => window.tpTraining.runs), 1);
    // Tab to the destructive button and press Enter: a fresh run starts.
    await page.click('#train-start');
    await page.waitForSelector('#confirm-fresh-start[open]');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-fresh-start-confirm');
    await page.keyboard.press('Enter');
    await waitDone(page, 2);
    assert.equal(await page.evaluate(() => window.tpTraining.phases.length), 1, 'a fresh run: one phase');

    // With Keep checked there is nothing to lose, so no question; and the new run's progress line replaces the
    // last run's at once (the click runs the page's code up to its first wait, so this reads it before any step).
    await page.check('#t-keep');
    const progress = await page.evaluate(() => {
      document.querySelector('#train-start').click();
      return [document.querySelector('#train-progress-text').textContent, document.querySelector('#train-progress').value, !!document.querySelector('#confirm-fresh-start')];
    });
    assert.deepEqual(progress, ['starting: step 0 / 5', 0, false]);
    await waitDone(page, 3);
    assert.equal(await page.evaluate(() => window.tpTraining.phases.length), 2, 'fine-tuned: a second phase');

    // Reset asks too: Cancel keeps the model, the confirm button forgets it.
    await page.click('#train-reset');
    await page.waitForSelector('#confirm-reset[open]');
    await page.click('#confirm-reset-cancel');
    assert.notEqual(await page.evaluate(() => window.tp.store.modelInfo), null);
    await page.waitForFunction(storedWeightsInPage);
    // Forget this session: the same, and Cancel leaves IndexedDB as it was.
    await openPanel(page, 'session');
    await page.click('#clear-session');
    await page.waitForSelector('#confirm-forget[open]');
    assert.match(await page.textContent('#confirm-forget'), /the trained model \([\d,]+ parameters\)/);
    await page.keyboard.press('Escape');
    assert.equal(await storedWeights(page), true, 'Escape forgot nothing');
    await page.click('#clear-session');
    await page.click('#confirm-forget-confirm');
    await page.waitForFunction(() => /Forgotten/.test(document.querySelector('#panel-session .message').textContent));
    assert.equal(await storedWeights(page), false, 'forgotten after the confirmation');
    await openPanel(page, 'training');
    await page.click('#train-reset');
    await page.click('#confirm-reset-confirm');
    await page.waitForFunction(() => window.tp.store.modelInfo === null && window.tpTraining.phases.length === 0);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('after a reload Save & load shows the text, tokenizer and weights at once, and Keep stays checked', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await shortRun(page, 4);
    await page.click('#train-start');
    await waitDone(page, 1);
    await page.check('#t-keep');
    await keepSaved(page, true);
    const params = await page.evaluate(() => window.tp.store.modelInfo.paramCount);
    await page.waitForFunction(storedWeightsInPage);
    // Reload on the Save & load panel: no other panel is opened first.
    await openPanel(page, 'session');
    await page.reload();
    await waitReady(page);
    assert.ok(await page.isVisible('#panel-session'));
    assert.match(await page.textContent('#session-text'), /^pasted text \(/);
    assert.equal(await page.textContent('#session-tokenizer'), 'characters, 8 tokens');
    assert.equal(await page.textContent('#session-weights'), `${params.toLocaleString('en-US')} parameters (1 layer, d_model 16), 4 training steps with their loss chart`);
    await screenshot(page, 'flow-session-after-reload');
    await openPanel(page, 'training');
    assert.equal(await page.isChecked('#t-keep'), true, '“Keep the trained weights” kept its value');
    // Unchecked, it stays unchecked.
    await page.uncheck('#t-keep');
    await keepSaved(page, false);
    await page.reload();
    await waitReady(page);
    await openPanel(page, 'training');
    assert.equal(await page.isChecked('#t-keep'), false);
    // Keep with a tokenizer of another vocabulary cannot fine-tune: Start says so before it is pressed.
    await page.check('#t-keep');
    await openPanel(page, 'data');
    await page.fill('#user-text', 'xyz '.repeat(100));
    await page.click('#use-text');
    await openPanel(page, 'tokenizer');
    await page.selectOption('#tok-kind', 'char');
    await page.click('#train-tokenizer');
    await page.waitForFunction(() => window.tp.store.tokenizer?.summary.vocabSize === 5);
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), true);
    assert.match(await page.textContent('#train-status'), /Cannot fine-tune: the model's vocabulary has 8 tokens but the current tokenizer has 5/);
    await page.uncheck('#t-keep');
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), false);
    assert.equal(await page.textContent('#train-status'), '');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
