// The package API the page runs on (its worker hosts exactly this), in Node on the CPU: BPE progress with the
// merged tokens as shown, token bytes, the core's counts and display, streamed generation with the KV cache
// (token by token and in typed-array batches) and the alternatives, inspection, one attention step, embeddings,
// weights in and out, snapshots while training.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const TEXT = 'the cat sat on the mat. the dog sat on the log.\n'.repeat(40);

test('BPE progress shows each merge as tokens are shown, and tokenBytes gives the merged bytes', { skip }, async () => {
  const merges = [];
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'bpe', vocabSize: 270, pattern: 'gpt2', onProgress: (p) => merges.push(p) });
  try {
    assert.equal(merges.length, 270 - 256);
    for (const m of merges) {
      assert.equal(m.text, m.parts[0] + m.parts[1], 'ASCII tokens: the new token reads as its two parts');
      assert.deepEqual([...tokenizer.tokenBytes(m.token)], [...m.bytes]);
    }
    assert.ok(merges.some((m) => m.text.includes('␣')), `a space is shown as ␣: ${merges.map((m) => m.text)}`);
    assert.equal(tp.displayText('a b\n'), 'a␣b\\n');
    assert.equal(tp.displayBytes(Uint8Array.of(0xe2)), '<0xE2>');
  } finally {
    tokenizer.dispose();
  }
});

test('a model streams greedy tokens with the KV cache as generate does, and shows its insides', { skip }, async () => {
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const config = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16 };
  const model = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 5 });
  const twin = await tp.createModel({ tokenizer, config, backend: 'cpu', seed: 6 });
  try {
    assert.equal(tp.modelSize({ ...config, vocabSize: tokenizer.vocabSize }).params, model.paramCount, 'the core counts what it builds');
    const snapshots = [];
    await model.train({ text: TEXT, steps: 6, batchSize: 4, snapshotEvery: 3, onSnapshot: (s) => snapshots.push(s) });
    assert.deepEqual(snapshots.map((s) => s.step), [3, 6]);
    const restored = await tp.loadModel(snapshots[1].bytes);
    assert.equal(restored.paramCount, model.paramCount, 'a snapshot loads back');
    restored.dispose();

    const greedy = { maxTokens: 12, temperature: 0 };
    const ids = Array.from(await model.generateIds('the c', greedy));
    const streamed = [];
    for await (const token of model.generateTokens('the c', { ...greedy, alternatives: 3 })) streamed.push(token);
    assert.deepEqual(streamed.map((t) => t.id), ids, 'the stream makes the tokens generate makes');
    for (const token of streamed) {
      assert.equal(token.alternatives.length, 3);
      assert.equal(token.alternatives[0].id, token.id, 'greedy takes the likeliest');
      assert.ok(token.alternatives.every((a, i) => i === 0 || a.prob <= token.alternatives[i - 1].prob));
      assert.equal(token.prob, token.alternatives[0].prob, "greedy: the token's own probability is the top one");
    }
    // The same tokens as flat typed arrays, the first batch the first token alone.
    const batches = [];
    for await (const batch of model.generateBatches('the c', { ...greedy, alternatives: 3, batchMs: 0 })) batches.push(batch);
    assert.equal(batches[0].ids.length, 1, 'the first token comes alone (time to first token)');
    assert.deepEqual(batches.flatMap((b) => [...b.ids]), ids);
    for (const b of batches) {
      assert.ok(b.ids instanceof Uint32Array && b.probs instanceof Float32Array && b.alternativeIds instanceof Uint32Array);
      assert.equal(b.backend, 'cpu');
      assert.equal(b.k, 3);
      assert.equal(b.alternativeIds.length, 3 * b.ids.length);
      b.ids.forEach((id, i) => assert.equal(b.alternativeIds[3 * i], id, 'greedy takes the likeliest'));
    }
    // Sampling: each token's own probability is the softmax of its logit, so it appears among the alternatives
    // with the same value when it is one of them.
    const wide = { maxTokens: 30, temperature: 1.5, seed: 3, alternatives: 8 };
    for await (const token of model.generateTokens('the c', wide)) {
      const same = token.alternatives.find((a) => a.id === token.id);
      if (same) assert.ok(Math.abs(same.prob - token.prob) < 1e-7);
      else assert.ok(token.prob <= token.alternatives.at(-1).prob, 'a token outside the top 8 is less likely than all of them');
    }

    const inspection = await model.inspect('the cat', { topK: 2 });
    assert.equal(inspection.topK.length, 7);
    assert.equal(inspection.layerNorms.length, 2 * 2 + 1, 'ln_1 and ln_2 of each block, and ln_f');
    assert.equal(inspection.ffn.length, 2);
    const step = await model.attentionStep('the cat', 1, 1, 4);
    assert.ok(Math.abs(step.weights.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'the softmax sums to 1');
    assert.deepEqual(step.visible, [true, true, true, true, true, false, false], 'causal');
    assert.equal(step.keys.length, 7);
    const embeddings = await model.embeddings();
    assert.equal(embeddings.wte.length, tokenizer.vocabSize * 16);
    assert.equal(embeddings.positions.length, 16 * 16, 'learned positions (T, C)');

    await twin.setWeights(await model.weights());
    assert.deepEqual(Array.from(await twin.generateIds('the c', greedy)), ids, 'the same weights generate the same');
  } finally {
    model.dispose();
    twin.dispose();
    tokenizer.dispose();
  }
});
