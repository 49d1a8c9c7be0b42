// The package's hyperparameter search on WebGPU (SwiftShader here) against the same search on the CPU, in
// Chromium: js/src/lab-search.ts trains each trial as an ordinary Model on the asked backend, so both runs draw the
// same trials (seeds, hyperparameters), judge them by the same halving rule, and their validation losses agree as
// the whole-model check's do. A trial whose model could not open on WebGPU would be 'invalid', not 'completed'.
//
// Needs lib/ (bash scripts/build.sh && node js/build.mjs) and Chromium:
//   node --test tests/browser/bindings/lab-search.test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, skipReasonWithLib } from '../harness.mjs';


test('search() on WebGPU runs the CPU search\'s trials with the same early stopping', { skip: skipReasonWithLib(), timeout: 300_000 }, async () => {
  const { page, consoleErrors, close } = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo' });
  try {
    const report = await page.evaluate(async () => {
      const tp = await import('/lib/index.js');
      const text = 'the cat sat on the mat. the dog ran to the log. a bird sang in the tree.\n'.repeat(30);
      const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
      const options = {
        space: { strategy: 'grid', lr: [0.01, 0.000001, 0.02, 0.000002], eta: 2, rungs: 3 },
        trials: 4, steps: 8, seed: 5, tokenizer, text,
        config: { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8 }, batchSize: 4, evalBatches: 2, warmupSteps: 2,
      };
      const cpu = await tp.search({ ...options, backend: 'cpu' });
      const gpu = await tp.search({ ...options, backend: 'webgpu' });
      // 'webgpu' opens there or throws (the trial would be 'invalid'): this browser has the adapter.
      const probe = await tp.createModel({ config: { vocabSize: 8, nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 8 }, backend: 'webgpu' });
      const backend = probe.backend;
      probe.dispose();
      return { cpu: cpu.records, gpu: gpu.records, backend };
    });
    const { cpu, gpu } = report;
    assert.equal(report.backend, 'webgpu');
    assert.deepEqual(gpu.map((r) => r.status), cpu.map((r) => r.status), JSON.stringify(gpu.map((r) => r.error ?? '')));
    assert.deepEqual(cpu.map((r) => r.status), ['completed', 'stopped', 'completed', 'stopped']);
    gpu.forEach((r, i) => {
      assert.equal(r.seed, cpu[i].seed);
      assert.deepEqual(r.params, cpu[i].params);
      assert.deepEqual(r.rungs.map((x) => x.step), cpu[i].rungs.map((x) => x.step));
      r.rungs.forEach((x, k) => {
        const want = cpu[i].rungs[k].val_loss;
        console.log(`trial ${i} step ${x.step}: cpu ${want.toFixed(6)} webgpu ${x.val_loss.toFixed(6)}`);
        assert.ok(Math.abs(x.val_loss - want) / want <= 1e-3, `trial ${i} step ${x.step}: webgpu ${x.val_loss} vs cpu ${want}`);
      });
    });
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
