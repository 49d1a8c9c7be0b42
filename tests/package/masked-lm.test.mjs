// The masked-language objective through the package, in Node on the CPU: a model created with objective 'mlm'
// has one token id more than its tokenizer ([MASK]) and reads both ways; training reports the masked-token
// accuracy; fillMask gives the top-k tokens with their probabilities at each [MASK], and a causal model, text
// without [MASK] or longer than the context are clear errors.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const TEXT = 'the cat sat on the mat. the dog sat on the log.\n'.repeat(40);

test('an mlm model trains, reports masked accuracy and fills masks with probabilities', { skip }, async () => {
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const model = await tp.createModel({ tokenizer, config: { objective: 'mlm', nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }, backend: 'cpu', seed: 3 });
  try {
    assert.equal(model.config.objective, 'mlm');
    assert.equal(model.config.attentionMask, 'bidirectional', 'an encoder reads both ways by default');
    assert.equal(model.config.vocabSize, tokenizer.vocabSize + 1, 'one more id: [MASK]');
    const evals = [];
    await model.train({ text: TEXT, steps: 30, batchSize: 8, lr: 1e-2, evalInterval: 15, evalBatches: 2, onEval: (e) => evals.push(e) });
    assert.equal(evals.length, 2);
    for (const e of evals) assert.ok(e.valAccuracy >= 0 && e.valAccuracy <= 1, JSON.stringify(e));

    const result = await model.fillMask('the c[MASK]t sat [MASK]n', { topK: 3 });
    assert.equal(result.tokens.length, result.ids.length);
    assert.deepEqual(result.masks.map((m) => m.position), [5, 12]);
    assert.equal(result.tokens[5].text, tp.MASK_TOKEN);
    for (const m of result.masks) {
      assert.equal(m.predictions.length, 3);
      assert.ok(m.predictions.every((p, i) => i === 0 || p.prob <= m.predictions[i - 1].prob), 'most likely first');
      assert.ok(m.predictions.every((p) => p.prob > 0 && p.prob < 1 && p.id < tokenizer.vocabSize), 'never [MASK] itself');
      assert.equal(typeof m.predictions[0].text, 'string');
    }
    // The bidirectional attention of the same tokens: a query sees keys after it.
    const maps = await model.attention(result.ids);
    const grid = maps.head(0, 0);
    assert.ok(grid[1] > 0, 'position 0 attends to position 1');

    // Saved and loaded back, it is still a masked-language model with its tokenizer.
    const again = await tp.loadModel(await model.save(), { backend: 'cpu' });
    try {
      assert.equal(again.config.objective, 'mlm');
      const same = await again.fillMask('the c[MASK]t sat [MASK]n', { topK: 3 });
      assert.deepEqual(same.masks.map((m) => m.predictions.map((p) => p.id)), result.masks.map((m) => m.predictions.map((p) => p.id)));
    } finally {
      again.dispose();
    }

    await assert.rejects(model.fillMask('no mask here'), /has no \[MASK\]/);
    await assert.rejects(model.fillMask('[MASK]'.repeat(17)), /more than the model's context of 16/);
    await assert.rejects(model.fillMask('x', { topK: 0 }), /topK/);
  } finally {
    model.dispose();
    tokenizer.dispose();
  }
});

test('a causal model refuses [MASK] with a reason, and a bad objective is named', { skip }, async () => {
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const model = await tp.createModel({ tokenizer, config: { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }, backend: 'cpu' });
  try {
    assert.equal(model.config.objective, 'causal');
    await assert.rejects(model.fillMask('the [MASK]at'), /causal objective.*no \[MASK\] token/);
    await assert.rejects(tp.createModel({ tokenizer, config: { objective: 'seq2seqq' }, backend: 'cpu' }), /objective must be 'causal' or 'mlm'/);
    await assert.rejects(
      tp.createModel({ tokenizer, config: { objective: 'mlm', vocabSize: tokenizer.vocabSize }, backend: 'cpu' }),
      /plus one for \[MASK\]/,
    );
  } finally {
    model.dispose();
    tokenizer.dispose();
  }
});
