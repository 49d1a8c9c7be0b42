// Fine-tuning an encoder through the package, in Node on the CPU: finetune() puts a classification head on a
// masked-language model pre-trained on the stories and trains it on the template task beside the same model from
// new weights (same passages, batches, seed and steps). Both runs report their validation accuracy at the same
// steps and learn above chance; the run from new weights is exactly the fine-tuning of an untrained encoder of the
// same seed (so the only difference between the two curves is the pre-trained weights); the classifier gives class
// probabilities with the class names; a causal model, an unknown task and bad settings are clear errors.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const CONFIG = { objective: 'mlm', nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 32 };
const RUN = { task: 'template', steps: 90, evalInterval: 30, trainExamples: 256, valExamples: 64, batchSize: 16, lr: 3e-3, seed: 1337 };

test('an mlm encoder fine-tuned on the template task beside the same model from new weights', { skip }, async () => {
  const text = await tp.generateCorpus('stories', { bytes: 60000 });
  const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
  const encoder = await tp.createModel({ tokenizer, config: CONFIG, backend: 'cpu', seed: 1337 });
  const untrained = await tp.createModel({ tokenizer, config: CONFIG, backend: 'cpu', seed: 1337 });
  const before = tp.resourceCount().model;
  try {
    await encoder.train({ text, steps: 60, batchSize: 16, lr: 3e-3, evalInterval: 0 });
    const paramsBefore = await encoder.weights();

    const tasks = await tp.classifyTasks();
    assert.deepEqual(tasks.map((t) => t.name), ['template']);
    assert.deepEqual(tasks[0].classes, ['lost', 'walk', 'gift', 'week']);

    const evals = [];
    const progress = { pretrained: 0, scratch: 0 };
    const started = performance.now();
    const result = await tp.finetune({ encoder, ...RUN, onEval: (e) => evals.push(e), onProgress: (p) => (progress[p.run] = p.done) });
    const seconds = (performance.now() - started) / 1000;
    try {
      assert.deepEqual(progress, { pretrained: 90, scratch: 90 });
      assert.equal(result.task, 'template');
      assert.deepEqual(result.classes, ['lost', 'walk', 'gift', 'week']);
      assert.equal(result.chance, 0.25);
      // The same evaluation steps in both runs, reported as they came, the runs in turn.
      for (const run of [result.pretrained, result.scratch]) assert.deepEqual(run.evals.map((e) => e.step), [30, 60, 90]);
      assert.deepEqual(evals.map((e) => `${e.run}@${e.step}`), ['pretrained@30', 'scratch@30', 'pretrained@60', 'scratch@60', 'pretrained@90', 'scratch@90']);
      for (const run of [result.pretrained, result.scratch]) {
        assert.equal(run.accuracy, run.evals.at(-1).valAccuracy);
        assert.ok(run.evals.every((e) => e.valAccuracy >= 0 && e.valAccuracy <= 1 && Number.isFinite(e.valLoss)), JSON.stringify(run.evals));
      }
      // Above chance (0.25) after 90 steps, both of them.
      assert.ok(result.pretrained.accuracy > 0.4, `fine-tuned accuracy ${result.pretrained.accuracy}`);
      assert.ok(result.scratch.accuracy > 0.4, `accuracy from new weights ${result.scratch.accuracy}`);
      console.log(
        `template task, 90 steps each: fine-tuned ${result.pretrained.evals.map((e) => e.valAccuracy.toFixed(3))}, ` +
          `from new weights ${result.scratch.evals.map((e) => e.valAccuracy.toFixed(3))}; ${seconds.toFixed(1)} s`,
      );
      // The encoder itself is unchanged.
      assert.deepEqual(await encoder.weights(), paramsBefore);

      // Class probabilities with the class names, in label order.
      const c = await result.pretrained.classifier.classify('On Monday, Mira finds a gift for Tom.');
      assert.deepEqual(c.probs.map((p) => p.label), ['lost', 'walk', 'gift', 'week']);
      assert.ok(Math.abs(c.probs.reduce((a, p) => a + p.prob, 0) - 1) < 1e-5);
      assert.equal(c.label, c.probs.reduce((a, b) => (b.prob > a.prob ? b : a)).label);
      assert.equal(c.truncated, true, 'more than 32 characters: the first 32 are read, as in training');
      assert.equal(c.tokens, 32);
      const short = await result.pretrained.classifier.classify('Mira');
      assert.equal(short.truncated, false);
      assert.equal(short.tokens, 4);
      await assert.rejects(result.pretrained.classifier.classify('  '), /the text is empty/);
      // Saved, the classifier's config names its head.
      const bytes = await result.pretrained.classifier.save();
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)))));
      assert.match(header.__metadata__.model_config, /"classifier":\{"classes":4\}/);

      // The run from new weights is the fine-tuning of an untrained encoder of the same seed: same passages, head,
      // batches and steps, only the weights differ.
      const alone = await tp.finetune({ encoder: untrained, ...RUN, scratch: false });
      try {
        assert.equal(alone.scratch, null);
        assert.deepEqual(alone.pretrained.evals.map((e) => [e.step, e.valAccuracy, e.valLoss]), result.scratch.evals.map((e) => [e.step, e.valAccuracy, e.valLoss]));
      } finally {
        alone.pretrained.classifier.dispose();
      }
    } finally {
      result.pretrained.classifier.dispose();
      result.scratch.classifier.dispose();
    }
    assert.equal(tp.resourceCount().model, before, 'the classifiers are freed');
    await assert.rejects(result.pretrained.classifier.classify('Mira'), /disposed/);
  } finally {
    encoder.dispose();
    untrained.dispose();
    tokenizer.dispose();
  }
});

test('fine-tuning a causal model, an unknown task or bad settings is a clear error', { skip }, async () => {
  const text = await tp.generateCorpus('stories', { bytes: 20000 });
  const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
  const causal = await tp.createModel({ tokenizer, config: { ...CONFIG, objective: 'causal' }, backend: 'cpu' });
  const encoder = await tp.createModel({ tokenizer, config: CONFIG, backend: 'cpu' });
  const before = tp.resourceCount().model;
  try {
    const small = { steps: 2, trainExamples: 16, valExamples: 16, batchSize: 8 };
    await assert.rejects(tp.finetune({ encoder: causal, ...small }), /causal.*masked-language/s);
    await assert.rejects(tp.finetune({ encoder, ...small, task: 'sentiment' }), /no classification task called 'sentiment'.*template/);
    await assert.rejects(tp.finetune({ encoder, ...small, steps: 0 }), /steps must be a whole number/);
    await assert.rejects(tp.finetune({ encoder, ...small, valExamples: 4 }), /valExamples must be .* at least one batch/);
    await assert.rejects(tp.finetune({ encoder, ...small, seqLen: 33 }), /block_size 32/);
    await assert.rejects(tp.finetune({ encoder: {}, ...small }), /encoder must be a Model/);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(tp.finetune({ encoder, ...small, signal: controller.signal }), { name: 'AbortError' });
    assert.equal(tp.resourceCount().model, before, 'nothing left behind by a refused run');
  } finally {
    causal.dispose();
    encoder.dispose();
    tokenizer.dispose();
  }
});
