// Memory and precision in the Training panel (WebGPU on SwiftShader): the memory figure shows the core's memory
// report (the same numbers the package's memoryReport gives in Node), the next run's bar and numbers follow the
// checkpointing switch and the batch, the adapter's limits are named; the Precision control offers f16 only where
// it can run and says why not (the CPU; SwiftShader has no shader-f16); a run with checkpointing on WebGPU trains.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TEXT, openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

/** The core's report (the wasm build under Node, pkg/) for the page's model settings. */
async function coreReport(model, vocab, batch, accumulation, limits) {
  const pkg = join(import.meta.dirname, '..', '..', '..', 'pkg');
  const core = await import(join(pkg, 'transformer_playground.js'));
  core.initSync({ module: readFileSync(join(pkg, 'transformer_playground_bg.wasm')) });
  const snake = {
    vocab_size: vocab,
    n_layer: model.nLayer,
    n_head: model.nHead,
    n_embd: model.nEmbd,
    block_size: model.blockSize,
    ffn_mult: model.ffnMult,
    activation: model.activation,
    positional: model.positional,
    dropout: model.dropout,
  };
  return core.memoryReport(snake, batch, model.blockSize, accumulation, 1, true, limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

const bars = (page) =>
  page.$$eval('#memory-bars .memory-bar', (els) =>
    els.map((e) => ({ precision: e.dataset.precision, checkpoint: Number(e.dataset.checkpoint), total: Number(e.dataset.total), activations: Number(e.dataset.activations), fits: e.dataset.fits, current: e.dataset.current === 'true' })),
  );

test('the memory figure, the checkpointing switch and the precision control', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await setUpTinyModel(page, TEXT);
    await openPanel(page, 'model');
    await page.fill('#m-layers', '3');
    await openPanel(page, 'training');
    await page.fill('#t-batch', '4');
    await page.fill('#t-accum', '1');
    await page.waitForFunction(() => window.tpMemory?.report?.batchSize === 4 && window.tp.store.model.nLayer === 3);

    // The bars are the core's report for this model and batch: four ways to train, the numbers Node gets.
    const state = await page.evaluate(() => ({ model: window.tp.store.model, vocab: window.tp.store.tokenizer.summary.vocabSize, adapter: window.tp.store.adapter }));
    assert.equal(state.adapter.available, true, 'SwiftShader offers WebGPU');
    const expected = await coreReport(state.model, state.vocab, 4, 1, state.adapter.limits);
    let shown = await bars(page);
    assert.deepEqual(
      shown.map((b) => [b.precision, b.checkpoint, b.total, b.activations]),
      expected.footprints.map((f) => [f.precision, f.checkpoint_every, f.total, f.activations]),
    );
    assert.ok(shown.every((b) => b.fits === 'true'), "a tiny model fits SwiftShader's limits");
    const caption = await page.textContent('#memory-caption');
    assert.match(caption, /binds at most 1\.0 GiB per buffer \(maxStorageBufferBindingSize\)/);
    assert.match(caption, /maxBufferSize/);
    assert.match(caption, /Batch 4 × 16 tokens × 1 micro-batches/);

    // Checkpointing off: the next run is the f32 bar without it; on: the bar with it, and fewer activation bytes.
    assert.deepEqual(shown.filter((b) => b.current).map((b) => [b.precision, b.checkpoint]), [['f32', 0]]);
    const off = await page.$eval('#memory-current', (e) => ({ total: Number(e.dataset.total), activations: Number(e.dataset.activations), text: e.textContent }));
    assert.equal(off.total, expected.footprints[0].total);
    await page.check('#t-checkpoint');
    const on = await page.$eval('#memory-current', (e) => ({ total: Number(e.dataset.total), activations: Number(e.dataset.activations), text: e.textContent }));
    assert.equal(on.activations, expected.footprints[1].activations);
    assert.ok(on.activations < off.activations && on.total < off.total, `checkpointing shrinks the next run: ${off.activations} -> ${on.activations}`);
    assert.match(on.text, /The next run \(f32, checkpointing\) needs/);
    shown = await bars(page);
    assert.deepEqual(shown.filter((b) => b.current).map((b) => [b.precision, b.checkpoint]), [['f32', 1]]);
    // A larger batch: more activations, from a new report.
    await page.fill('#t-batch', '8');
    await page.waitForFunction(() => window.tpMemory?.report?.batchSize === 8);
    const bigger = await page.$eval('#memory-current', (e) => Number(e.dataset.activations));
    assert.ok(bigger > 1.9 * on.activations, `batch 8: ${bigger} activation bytes, batch 4: ${on.activations}`);
    await page.fill('#t-batch', '4');
    await page.waitForFunction(() => window.tpMemory?.report?.batchSize === 4);

    // Precision: on the CPU (SwiftShader is a software adapter, so the page starts there) f16 is not offered.
    assert.equal(await page.evaluate(() => window.tp.store.backend), 'cpu');
    assert.equal(await page.$eval('#t-precision option[value="f16"]', (o) => o.disabled), true);
    assert.match(await page.textContent('#t-precision-hint'), /f16 trains on WebGPU; runs on the CPU stay f32/);
    // On WebGPU: SwiftShader has no shader-f16, and the control says so (no WebGPU error anywhere).
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tp.store.backend === 'webgpu');
    assert.equal(await page.$eval('#t-precision option[value="f16"]', (o) => o.disabled), true);
    assert.match(await page.textContent('#t-precision-hint'), /this WebGPU adapter( \(.+\))? has no shader-f16, so training stays f32/);
    assert.equal(await page.inputValue('#t-precision'), 'f32');
    assert.equal(await page.evaluate(() => window.tpMemory.choices.precision), 'f32');
    await screenshot(page, 'panel-training-memory');

    // A run with checkpointing on WebGPU trains (SwiftShader), and reports no loss scale (f32).
    await page.fill('#t-steps', '6');
    await page.fill('#t-lr', '0.01');
    await page.fill('#t-warmup', '1');
    await page.click('#train-start');
    await page.waitForFunction(() => ['done', 'idle'].includes(window.tpTraining?.state) || document.querySelector('#train-status')?.dataset.kind === 'error', null, { timeout: 180_000 });
    assert.match(await page.textContent('#train-status'), /Done: 6 steps on WebGPU/);
    const losses = await page.evaluate(() => window.tpTraining.phases[0].steps.map((s) => s.loss));
    assert.equal(losses.length, 6);
    assert.ok(losses.at(-1) < losses[0], `the loss falls with checkpointing: ${losses.join(' ')}`);
    assert.equal(await page.$eval('#train-scaling', (e) => e.hidden), true, 'an f32 run shows no loss scale');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

// An f16 run's dynamic loss scaling, as the page shows it. SwiftShader has no shader-f16, so no real f16 run can
// happen in this browser (the core's scaling itself is tested natively on lavapipe: gpu_model::precision_tests).
// Here the worker's step messages of an ordinary run get the two fields an f16 run sends (`lossScale`,
// `skippedSteps`, as www/src/worker.ts forwards them from the package's progress), a GradScaler story: 2^16,
// one overflow at step 3 (backoff to 2^15, the step skipped), then good steps. The page must show the scale and the
// skipped count as they arrive, in the progress line and under the memory figure.
function scriptedLossScaling() {
  const story = (step) => (step < 3 ? { lossScale: 65536, skippedSteps: 0 } : { lossScale: 32768, skippedSteps: 1 });
  const Original = window.Worker;
  window.Worker = class extends Original {
    set onmessage(handler) {
      super.onmessage = (event) => {
        const progress = event.data?.progress;
        if (progress?.kind !== 'step') return handler.call(this, event);
        const seen = (window.tpScalingSeen ??= []);
        const scaled = { ...progress, ...story(progress.step) };
        seen.push(scaled);
        return handler.call(this, { data: { ...event.data, progress: scaled } });
      };
    }
    get onmessage() {
      return super.onmessage;
    }
  };
}

test("an f16 run's loss scale and skipped steps are shown as they arrive", { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, initScript: scriptedLossScaling });
  try {
    await waitReady(page);
    await setUpTinyModel(page, TEXT);
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#train-scaling', (e) => e.hidden), true, 'no scale before a run');
    await page.fill('#t-steps', '5');
    await page.fill('#t-warmup', '1');
    await page.click('#train-start');
    await page.waitForFunction(() => ['done', 'idle'].includes(window.tpTraining?.state) || document.querySelector('#train-status')?.dataset.kind === 'error', null, { timeout: 120_000 });
    assert.match(await page.textContent('#train-status'), /Done: 5 steps/);
    const seen = await page.evaluate(() => window.tpScalingSeen.map((p) => [p.step, p.lossScale, p.skippedSteps]));
    assert.deepEqual(seen.at(-1), [5, 32768, 1], `the page received the scripted steps: ${JSON.stringify(seen)}`);
    const scaling = await page.$eval('#train-scaling', (e) => ({ hidden: e.hidden, text: e.textContent, scale: e.dataset.lossScale, skipped: e.dataset.skippedSteps }));
    assert.equal(scaling.hidden, false, 'an f16 run shows its loss scale');
    assert.equal(scaling.scale, '32768');
    assert.equal(scaling.skipped, '1');
    assert.match(scaling.text, /loss scale 2\^15 \(32768\), 1 steps skipped/);
    assert.match(await page.textContent('#train-progress-text'), /step 5 \/ 5 · loss \d+\.\d{3} · loss scale 2\^15, 1 skipped/);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
