// Data augmentation through the package: the `augment` training option (the core's, applied to training batches
// only, on the CPU and WebGPU alike because batches are drawn on the CPU) and previewBatch(), which shows a
// learner what the model reads. Node, CPU path (the core's own tests check the sampler: crate/src/model/augment.rs).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const TEXT = 'the cat sat on the mat. the dog ran to the log.\n'.repeat(40);

async function setup() {
  const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
  await tp.init();
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const config = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 };
  return { tp, tokenizer, config };
}

test('previewBatch shows the windows and what the model reads after augmentation', { skip: skipReason() }, async () => {
  const { tp, tokenizer, config } = await setup();
  const model = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 3 });
  const plain = model.previewBatch({ text: TEXT, batchSize: 4, seed: 5 });
  assert.equal(plain.rows.length, 4);
  assert.equal(plain.seqLen, 16);
  for (const row of plain.rows) {
    assert.deepEqual(Array.from(row.inputs), Array.from(row.window), 'no augmentation: the model reads the text');
    assert.equal(row.changed, 0);
    assert.ok(TEXT.includes(tokenizer.decode(row.window)), `a window of the text: ${row.windowTokens.join('')}`);
    assert.equal(row.windowTokens.length, 16);
  }
  const augment = { replace: 0.2, mask: 0.2, delete: 0.1 };
  const noisy = model.previewBatch({ text: TEXT, batchSize: 4, seed: 5, augment });
  // The same windows (starts drawn apart from the augmentation), and the model reads something else.
  assert.deepEqual(noisy.rows.map((r) => Array.from(r.window)), plain.rows.map((r) => Array.from(r.window)));
  assert.ok(noisy.rows.reduce((n, r) => n + r.changed, 0) > 8, 'about half the tokens change');
  const maskText = tokenizer.tokenStrings(Uint32Array.of(tokenizer.vocabSize - 1))[0];
  assert.ok(noisy.rows.some((r) => r.inputTokens.includes(maskText)), `the mask token ${maskText} shows`);
  // Seeded: the same options give the same batch, another seed another.
  const again = model.previewBatch({ text: TEXT, batchSize: 4, seed: 5, augment });
  assert.deepEqual(again.rows.map((r) => Array.from(r.inputs)), noisy.rows.map((r) => Array.from(r.inputs)));
  model.dispose();
});

test('augmented training is deterministic, differs from plain training, and never touches validation', { skip: skipReason() }, async () => {
  const { tp, tokenizer, config } = await setup();
  const run = async (augment) => {
    const model = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 3 });
    const result = await model.train({ text: TEXT, steps: 6, batchSize: 4, evalInterval: 6, seed: 9, augment });
    model.dispose();
    return result;
  };
  const plain = await run(undefined);
  const a = await run({ replace: 0.1, mask: 0.1, delete: 0.05, maxSpan: 2 });
  const b = await run({ replace: 0.1, mask: 0.1, delete: 0.05, maxSpan: 2 });
  assert.equal(a.loss, b.loss, 'same seed, same run');
  assert.equal(a.eval.valLoss, b.eval.valLoss);
  assert.notEqual(a.loss, plain.loss, 'augmentation changes the training batches');
  // Validation is never augmented: an untrained twin scores the same validation batches either way.
  const twin = async (augment) => {
    const m = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 3 });
    await m.train({ text: TEXT, steps: 0, batchSize: 4, seed: 9, augment });
    const e = await m.evaluate();
    m.dispose();
    return e.valLoss;
  };
  assert.equal(await twin({ mask: 0.5 }), await twin(undefined));
});

test('bad augmentation options are clear errors', { skip: skipReason() }, async () => {
  const { tp, tokenizer, config } = await setup();
  const model = await tp.createModel({ tokenizer, config, backend: 'cpu' });
  await assert.rejects(model.train({ text: TEXT, steps: 1, augment: { swap: 0.1 } }), /no augmentation called 'swap'/);
  await assert.rejects(model.train({ text: TEXT, steps: 1, augment: { mask: 2 } }), /between 0 and 1/);
  await assert.rejects(model.train({ text: TEXT, steps: 1, augment: { mask: Number.NaN } }), /finite number/);
  await assert.rejects(model.train({ text: TEXT, steps: 1, augment: { mask: 0.1, maskId: 9999 } }), /mask_id 9999 is outside/);
  assert.throws(() => model.previewBatch({ text: TEXT, augment: { delete: 1 } }), /delete must be below 1/);
  assert.throws(() => model.previewBatch({}), /give text or tokens/);
  model.dispose();
});
