// Memory and precision in the package, in Node on the CPU: memoryReport's numbers (the core's count of the WebGPU
// executor's buffers: parts that add up, checkpointing shrinking the activations, f16 halving them and adding a
// weight copy, the adapter's limits marked), the training options checkpointActivations / checkpointEvery /
// precision refused with clear sentences (changing nothing), and checkpointing taking the same steps as without.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const TEXT = 'the cat sat on the mat. the dog sat on the log.\n'.repeat(40);

test('memoryReport breaks training into parts, f32 and f16, without and with checkpointing', { skip }, async () => {
  await tp.init();
  const config = { nLayer: 4, nHead: 4, nEmbd: 64, blockSize: 32, vocabSize: 65 };
  const r = tp.memoryReport(config, { batchSize: 8, gradAccum: 2 });
  assert.equal(r.batchSize, 8);
  assert.equal(r.seqLen, 32, 'seqLen defaults to the block size');
  assert.equal(r.gradAccum, 2);
  assert.deepEqual(
    r.footprints.map((f) => [f.precision, f.checkpointEvery]),
    [['f32', 0], ['f32', 1], ['f16', 0], ['f16', 1]],
  );
  const [full, ckpt, half, halfCkpt] = r.footprints;
  for (const f of r.footprints) {
    assert.equal(f.total, f.parameters + f.gradients + f.adamw + f.activations + f.scratch, `${f.precision}/${f.checkpointEvery}: the parts add up`);
    assert.equal(f.adamw, 2 * f.gradients, "AdamW's two moments, f32, one per trainable weight each");
    assert.equal(f.fits, undefined, 'no limits given, nothing marked');
    assert.ok(f.largestBinding > 0 && f.largestBindingName.length > 0);
  }
  // The parameters padded to the binding alignment (128 numbers per tensor) on the GPU.
  const params = tp.modelSize(config).params;
  assert.ok(full.parameters >= 4 * params && full.parameters < 4 * (params + 128 * (4 * 12 + 4)), `${full.parameters} bytes for ${params} parameters`);
  assert.equal(full.gradients, full.parameters, 'every weight trains');
  // Checkpointing every block: one block's working set plus each block's output instead of four blocks.
  assert.ok(ckpt.activations < 0.5 * full.activations, `activations ${ckpt.activations} < half of ${full.activations}`);
  assert.equal(ckpt.parameters, full.parameters);
  assert.equal(ckpt.scratch, full.scratch, "the backward's scratch is shared by the blocks either way");
  // f16: an f16 copy of the weights beside the f32 master weights; activations about half (statistics stay f32).
  assert.equal(half.parameters, full.parameters * 1.5);
  assert.equal(half.gradients, full.gradients);
  assert.ok(half.activations < 0.56 * full.activations && half.activations > 0.5 * full.activations, `f16 activations ${half.activations} of ${full.activations}`);
  assert.ok(halfCkpt.activations < half.activations);
  assert.match(r.f16Assumes, /activations/);

  // A larger batch: activations grow with it, weights do not.
  const big = tp.memoryReport(config, { batchSize: 16, gradAccum: 2 }).footprints[0];
  assert.equal(big.parameters, full.parameters);
  assert.ok(big.activations > 1.9 * full.activations);

  // The adapter's limits: a binding limit below the largest buffer marks it; a generous one passes.
  const tight = tp.memoryReport(config, { batchSize: 8, limits: { maxStorageBufferBindingSize: full.largestBinding - 4 } });
  assert.deepEqual(tight.limits, { maxStorageBufferBindingSize: full.largestBinding - 4, maxBufferSize: full.largestBinding - 4 });
  assert.equal(tight.footprints[0].fits, false, 'the f32 footprint has a buffer over the limit');
  const roomy = tp.memoryReport(config, { batchSize: 8, limits: { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 } });
  assert.ok(roomy.footprints.every((f) => f.fits === true));

  // Clear refusals.
  assert.throws(() => tp.memoryReport({ nLayer: 2 }, {}), /could not report the memory: config.vocabSize is needed/);
  assert.throws(() => tp.memoryReport(config, { batchSize: 0 }), /batchSize must be a whole number >= 1 \(got 0\)/);
  assert.throws(() => tp.memoryReport(config, { checkpointEvery: 1.5 }), /checkpointEvery must be a whole number >= 1/);
  assert.throws(() => tp.memoryReport(config, { seqLen: 64 }), /at most block_size \(32\)/);
  assert.throws(() => tp.memoryReport(config, { limits: { maxStorageBufferBindingSize: -1 } }), /maxStorageBufferBindingSize must be a number of bytes above 0/);
  assert.throws(() => tp.memoryReport({ ...config, nHead: 3 }, {}), /could not report the memory/);
});

test('precision and checkpointing options: clear refusals that change nothing, and model.f16 says why', { skip }, async () => {
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const model = await tp.createModel({ tokenizer, config: { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16 }, backend: 'cpu', seed: 3 });
  try {
    assert.deepEqual(model.f16, { available: false, reason: 'f16 training runs on WebGPU, and this model trains on the CPU (asked for the CPU)' });
    const base = { text: TEXT, steps: 1, batchSize: 2 };
    const refusals = [
      [{ precision: 'f16' }, /could not set the training data: f16 training is unavailable: f16 training runs on WebGPU, and this model trains on the CPU \(asked for the CPU\); train with precision 'f32'/],
      [{ precision: 'bf16' }, /precision must be 'f32' or 'f16' \(got 'bf16'\)/],
      [{ checkpointActivations: 'yes' }, /checkpointActivations must be true or false \(got yes\)/],
      [{ checkpointActivations: true, checkpointEvery: 0 }, /checkpointEvery must be a whole number >= 1 \(got 0\)/],
      [{ checkpointActivations: true, checkpointEvery: 1.5 }, /checkpointEvery must be a whole number >= 1 \(got 1.5\)/],
      [{ checkpointEvery: 2 }, /checkpointEvery needs checkpointActivations: true/],
    ];
    for (const [options, reason] of refusals) {
      await assert.rejects(model.train({ ...base, ...options }), reason, JSON.stringify(options));
      assert.equal(model.stepCount, 0, `${JSON.stringify(options)} changed nothing`);
    }
    // f32 is the default and may be said; a run with it reports no loss scale.
    const progress = [];
    await model.train({ ...base, precision: 'f32', steps: 2, onProgress: (p) => progress.push(p) });
    assert.equal(progress.length, 2);
    assert.ok(progress.every((p) => p.lossScale === undefined && p.skippedSteps === undefined));
  } finally {
    model.dispose();
    tokenizer.dispose();
  }
});

test('activation checkpointing takes the same steps as without (CPU, with dropout)', { skip }, async () => {
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const config = { nLayer: 3, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0.1 };
  const run = async (extra) => {
    const model = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 9 });
    try {
      const losses = [];
      const evals = [];
      await model.train({ text: TEXT, steps: 6, batchSize: 4, gradAccum: 2, evalInterval: 3, ...extra, onProgress: (p) => losses.push(p.loss), onEval: (e) => evals.push(e.valLoss) });
      return { losses, evals, weights: await model.save() };
    } finally {
      model.dispose();
    }
  };
  try {
    const plain = await run({});
    for (const every of [1, 2]) {
      const checkpointed = await run({ checkpointActivations: true, checkpointEvery: every });
      assert.deepEqual(checkpointed.losses, plain.losses, `every ${every}: the same losses, bit for bit`);
      assert.deepEqual(checkpointed.evals, plain.evals);
      assert.deepEqual(checkpointed.weights, plain.weights, `every ${every}: the same weights after the run`);
    }
    assert.equal(new Set(plain.losses).size, plain.losses.length, 'the losses move (the run trains)');
  } finally {
    tokenizer.dispose();
  }
});
