// Issue 18, real sizes on WebGPU in Chromium: a model with GPT-2's token embedding (50,257 x 768 = 147.2 MiB,
// over WebGPU's default 128 MiB storage binding), its weights built here from a seed (nothing downloaded), saved
// and loaded through the package on WebGPU (SwiftShader) with WebGPU's default limits (gpuLimits: 'default'). The
// device cannot train it (the batched passes bind the embedding whole), so it opens for generation only and says
// so; its GPU copy generates the CPU's greedy tokens (the embedding gathered, and the logits computed, over chunks
// of rows), whole and streamed. A model the device cannot even hold for generation (a KV cache over one binding)
// is refused with "this GPU cannot hold the model ...". Never a raw WebGPU validation error (the console stays
// clean). One layer keeps it fast: SwiftShader computes the 768 x 50,257 logits of each token.
// GPT-2 small itself (124 M parameters, built here from a seed) is then loaded the same way: its 498 MB of weights
// are over WebGPU's default 256 MiB largest buffer, so the load says the GPU cannot hold it, before allocating.
//
// Needs lib/ (bash scripts/build.sh && node js/build.mjs) and Chromium:
//   node --test tests/browser/bindings/generation-only.test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, skipReasonWithLib } from '../harness.mjs';


test('a model over the default binding limit opens on WebGPU for generation only and generates the CPU tokens', { skip: skipReasonWithLib(), timeout: 600_000 }, async () => {
  const { page, consoleErrors, close } = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo' });
  try {
    const report = await page.evaluate(async () => {
      const tp = await import('/lib/index.js');
      const ms = (t0) => Math.round(performance.now() - t0);
      const config = { vocabSize: 50257, nLayer: 1, nHead: 12, nEmbd: 768, blockSize: 64 };
      const prompt = Uint32Array.from([464, 2068, 7586, 21831]);
      const greedy = { maxTokens: 6, temperature: 0 };
      let t0 = performance.now();
      const cpu = await tp.createModel({ config, backend: 'cpu', seed: 7 });
      const built = ms(t0);
      const expected = [...(await cpu.generateIds(prompt, greedy))];
      const bytes = await cpu.save();
      const paramCount = cpu.paramCount;
      cpu.dispose();
      t0 = performance.now();
      const model = await tp.loadModel(bytes, { backend: 'webgpu', gpuLimits: 'default' });
      const loaded = ms(t0);
      t0 = performance.now();
      const got = [...(await model.generateIds(prompt, greedy))];
      const generated = ms(t0);
      const streamed = [];
      const where = new Set();
      for await (const batch of model.generateBatches(prompt, greedy)) {
        streamed.push(...batch.ids);
        where.add(batch.backend);
      }
      let trainError = null;
      try {
        await model.train({ tokens: Array.from({ length: 400 }, (_, i) => i % 97), steps: 1, batchSize: 1, seqLen: 16 });
      } catch (error) {
        trainError = error.message;
      }
      const out = { paramCount, built, loaded, generated, expected, got, streamed, where: [...where], backend: model.backend, reason: model.backendReason, trainError };
      model.dispose();
      // A model the device cannot hold even for generation: a KV cache of T x C = 270,000 x 128 (131.8 MiB) per
      // block. Rotary positions keep its CPU weights small (no position table).
      const small = await tp.createModel({ config: { vocabSize: 16, nLayer: 1, nHead: 1, nEmbd: 128, blockSize: 270000, positional: 'rope' }, backend: 'cpu' });
      const smallBytes = await small.save();
      small.dispose();
      try {
        (await tp.loadModel(smallBytes, { backend: 'webgpu', gpuLimits: 'default' })).dispose();
        out.refused = null;
      } catch (error) {
        out.refused = { name: error.name, message: error.message };
      }
      out.resources = tp.resourceCount();
      return out;
    });
    console.log(`${report.paramCount} parameters built in ${report.built} ms, loaded on WebGPU in ${report.loaded} ms, 6 tokens in ${report.generated} ms`);
    console.log(`backend ${report.backend}: ${report.reason}`);
    console.log(`greedy: cpu ${report.expected}, webgpu ${report.got}, streamed ${report.streamed}`);
    assert.equal(report.backend, 'webgpu');
    assert.match(report.reason, /^generation only on this device: the token embedding \(V x C\) needs 147\.2 MiB but this GPU binds at most 128\.0 MiB per buffer/);
    assert.equal(report.got.length, 6);
    assert.deepEqual(report.got, report.expected, 'the GPU copy generates the CPU greedy tokens');
    assert.deepEqual(report.streamed, report.expected, 'streamed too');
    assert.deepEqual(report.where, ['webgpu']);
    console.log(`train: ${report.trainError}`);
    assert.match(report.trainError ?? '', /this GPU can run the model but not train it \(the token embedding \(V x C\) .*\): load it on the CPU to train it/);
    console.log(`refused: ${JSON.stringify(report.refused)}`);
    assert.equal(report.refused?.name, 'PlaygroundError');
    assert.equal(
      report.refused.message,
      "could not load the model: this GPU cannot hold the model for generation: a block's KV cache (T x C) needs 131.8 MiB but it binds at most 128.0 MiB per buffer: shrink the context or d_model",
    );
    assert.deepEqual(report.resources, { tokenizer: 0, model: 0, gpu: 0 }, 'nothing is left alive');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('GPT-2 small (124 M parameters) on WebGPU with the default limits: "cannot hold it", never a WebGPU error', { skip: skipReasonWithLib(), timeout: 600_000 }, async () => {
  const { page, consoleErrors, close } = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo' });
  try {
    const report = await page.evaluate(async () => {
      const tp = await import('/lib/index.js');
      const ms = (t0) => Math.round(performance.now() - t0);
      // GPT-2 small's shape: vocabulary 50,257, context 1024, 12 blocks of 12 heads, d_model 768.
      const config = { vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768 };
      let t0 = performance.now();
      const cpu = await tp.createModel({ config, backend: 'cpu', seed: 3 });
      const paramCount = cpu.paramCount;
      let bytes = await cpu.save();
      cpu.dispose();
      const built = ms(t0);
      const out = { paramCount, built, fileBytes: bytes.length };
      t0 = performance.now();
      try {
        (await tp.loadModel(bytes, { backend: 'webgpu', gpuLimits: 'default' })).dispose();
        out.refused = null;
      } catch (error) {
        out.refused = { name: error.name, message: error.message };
      }
      out.refusedIn = ms(t0);
      bytes = null;
      out.resources = tp.resourceCount();
      return out;
    });
    console.log(`${report.paramCount} parameters built and saved (${report.fileBytes} bytes) in ${report.built} ms; refused in ${report.refusedIn} ms`);
    console.log(`refused: ${JSON.stringify(report.refused)}`);
    assert.equal(report.paramCount, 124439808, "GPT-2 small's parameter count");
    assert.equal(report.refused?.name, 'PlaygroundError');
    assert.match(report.refused.message, /^could not load the model: this GPU cannot hold the model/);
    assert.match(report.refused.message, /256\.0 MiB/, 'names the largest buffer the device allows');
    assert.deepEqual(report.resources, { tokenizer: 0, model: 0, gpu: 0 }, 'nothing is left alive');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
