// The Lab panel (CPU path, in the page's worker): an augmented batch shown as text (never as HTML), distillation
// of the trained model (and of a saved model picked as a file) into a student beside the same student alone (two
// curves), the overfitting demo (four runs' training and validation curves and their gaps), and a hyperparameter
// search whose runs table sorts, whose best config applies to the Model and Training panels, and which a reload in
// the middle resumes from the trials kept in IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

async function trainSteps(page, steps) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 3, '#t-batch': 4, '#t-accum': 1, '#t-eval': 10, '#t-seed': 1 })) await page.fill(id, String(v));
  await page.click('#train-start');
  await page.waitForFunction(() => ['done', 'idle'].includes(window.tpTraining?.state) || document.querySelector('#train-status')?.dataset.kind === 'error', null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => window.tpTraining.state), 'done');
}

const TEXT = 'abcabd <b>x</b> abcabe abcabd. '.repeat(60);

test('lab: augmented batch as text, distillation curves, a search that sorts, applies and resumes after a reload', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page, TEXT);
    await trainSteps(page, 20);
    await openPanel(page, 'lab');

    // What the model sees: changed tokens marked, the text kept as text (the corpus holds markup).
    await page.fill('#lab-replace', '0.3');
    await page.fill('#lab-mask', '0.2');
    await page.click('#lab-preview');
    await page.waitForSelector('#lab-preview-rows .lab-row');
    assert.equal(await page.locator('#lab-preview-rows .lab-row').count(), 4);
    assert.ok((await page.locator('#lab-preview-rows mark').count()) > 4, 'changed tokens are marked');
    assert.equal(await page.locator('#lab-preview-rows b').count(), 0, 'the corpus text never becomes HTML');
    assert.match(await page.textContent('#lab-preview-rows'), /<b>|<\/b>|b>x/);

    // Distillation: two curves with the same steps, and a verdict with both numbers.
    await page.fill('#lab-s-layers', '1');
    await page.fill('#lab-s-heads', '1');
    await page.fill('#lab-s-width', '8');
    await page.fill('#lab-d-steps', '20');
    await page.click('#lab-distill');
    await page.waitForFunction(() => /with the teacher [\d.]+, without [\d.]+/.test(document.querySelector('#lab-distill-status').textContent), null, { timeout: 120_000 });
    const [distilled, baseline] = await page.evaluate(() => window.tpCharts['lab-distill-chart']);
    assert.deepEqual(distilled.points.map((p) => p[0]), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert.deepEqual(baseline.points.map((p) => p[0]), distilled.points.map((p) => p[0]));
    assert.equal(await page.getAttribute('#lab-distill-progress', 'value'), '40');

    // A saved model as the teacher: a file made by the package in Node with the same character tokenizer.
    const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
    await tp.init();
    const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
    const saved = await tp.createModel({ tokenizer, config: { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }, backend: 'cpu', seed: 3 });
    await saved.train({ text: TEXT, steps: 10, batchSize: 4, evalInterval: 0 });
    const teacherBytes = Buffer.from(await saved.save());
    saved.dispose();
    await page.setInputFiles('#lab-teacher-file', { name: 'teacher.safetensors', mimeType: 'application/octet-stream', buffer: teacherBytes });
    await page.fill('#lab-d-steps', '10');
    await page.evaluate(() => (document.querySelector('#lab-distill-status').textContent = ''));
    await page.click('#lab-distill');
    await page.waitForFunction(() => /with the teacher [\d.]+, without [\d.]+|rror|could not/.test(document.querySelector('#lab-distill-status').textContent), null, { timeout: 120_000 });
    assert.match(await page.textContent('#lab-distill-status'), /with the teacher [\d.]+, without [\d.]+/);
    const [fromFile] = await page.evaluate(() => window.tpCharts['lab-distill-chart']);
    assert.deepEqual(fromFile.points.map((p) => p[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await page.setInputFiles('#lab-teacher-file', []);

    // The overfitting demo: four runs, each with its training (dashed) and validation curve, and the gaps.
    await page.fill('#lab-o-train', '400');
    await page.fill('#lab-o-val', '1000');
    await page.fill('#lab-o-steps', '20');
    await page.fill('#lab-o-every', '10');
    await page.click('#lab-overfit');
    await page.waitForFunction(() => /Gap without regularization -?\d/.test(document.querySelector('#lab-overfit-status').textContent), null, { timeout: 120_000 });
    const overfitSeries = await page.evaluate(() => window.tpCharts['lab-overfit-chart']);
    assert.equal(overfitSeries.length, 8);
    for (const s of overfitSeries) assert.deepEqual(s.points.map((p) => p[0]), [10, 20], s.name);
    assert.deepEqual(overfitSeries.map((s) => Boolean(s.dashed)), [true, false, true, false, true, false, true, false]);
    const gaps = await page.$$eval('#lab-overfit-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.variant, Number(tr.querySelector('.gap').textContent)]));
    assert.deepEqual(gaps.map((g) => g[0]), ['none', 'dropout', 'weight_decay', 'augment']);
    assert.ok(gaps.every((g) => Number.isFinite(g[1])), JSON.stringify(gaps));
    assert.equal(await page.getAttribute('#lab-overfit-progress', 'value'), '80');

    // A search of 6 trials; after 2 have finished the page reloads, and the search goes on from there.
    await page.fill('#lab-trials', '6');
    // Enough steps that the reload comes while trials are still to run (each trial is a fraction of a second).
    await page.fill('#lab-trial-steps', '90');
    await page.click('#lab-search');
    await page.waitForFunction(() => document.querySelectorAll('#lab-runs tbody tr').length >= 2, null, { timeout: 120_000 });
    const before = await page.evaluate(() => document.querySelectorAll('#lab-runs tbody tr').length);
    await page.reload();
    assert.ok(before < 6, `the reload came during the search (${before} of 6 trials done)`);
    await waitReady(page);
    await openPanel(page, 'lab');
    await page
      .waitForFunction(() => /Done: /.test(document.querySelector('#lab-search-status').textContent), null, { timeout: 180_000 })
      .catch(async (error) => {
        const status = await page.textContent('#lab-search-status');
        const rows = await page.locator('#lab-runs tbody tr').count();
        throw new Error(`the search did not finish after the reload: status '${status}', ${rows} rows (${error.message})`);
      });
    const rows = await page.$$eval('#lab-runs tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.equal(rows.length, 6);
    assert.deepEqual(rows.map((r) => Number(r[0])).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'each trial once, none run twice');
    console.log(`search: ${before} trials before the reload, 6 after; statuses ${rows.map((r) => r[1]).join(', ')}`);
    assert.ok(rows.some((r) => r[1] === 'stopped'), 'successive halving stopped some trials');
    assert.equal(await page.getAttribute('#lab-search-progress', 'value'), '6');
    // Sorted by final loss (the default); the other way round after a click on its heading.
    const finals = rows.map((r) => Number(r[2])).filter(Number.isFinite);
    assert.deepEqual(finals, [...finals].sort((a, b) => a - b));
    await page.click('#lab-runs th button[data-sort="final"]');
    const descending = await page.$$eval('#lab-runs tbody tr', (trs) => trs.map((tr) => Number(tr.children[2].textContent)).filter(Number.isFinite));
    assert.deepEqual(descending, [...finals].sort((a, b) => b - a));
    // Curves of every trial, and scatter plots of the hyperparameters that varied.
    assert.equal((await page.evaluate(() => window.tpCharts['lab-curves'])).length, 6);
    assert.ok(await page.evaluate(() => window.tpCharts['lab-scatter-lr']?.length > 0));
    // Apply the best: the Model and Training panels take its width and learning rate.
    const best = await page.$eval('#lab-runs tr.best', (tr) => [...tr.children].map((td) => td.textContent));
    await page.click('#lab-apply-best');
    assert.equal(await page.inputValue('#m-dmodel'), String(Number(best[6])));
    assert.ok(Math.abs(Number(await page.inputValue('#t-lr')) - Number(best[3])) / Number(best[3]) < 0.05);
    await screenshot(page, 'panel-lab');
    // Keyboard: the sort buttons and actions are buttons (focusable, Enter works).
    await page.focus('#lab-runs th button[data-sort="trial"]');
    await page.keyboard.press('Enter');
    const trials = await page.$$eval('#lab-runs tbody tr', (trs) => trs.map((tr) => Number(tr.children[0].textContent)));
    assert.deepEqual(trials, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
