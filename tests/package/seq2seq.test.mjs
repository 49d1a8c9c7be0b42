// The encoder-decoder through the package, in Node on the CPU: createModel with objective 'seq2seq' and a task
// trains on the core's pairs (the loss goes down on reverse), reports the validation metrics in the progress of
// the evaluation steps, translates (beam width 1 through the beam search gives what the core's greedy decoding
// gave in its evaluation), returns the three kinds of attention maps, and answers bad options with clear errors.
// The bindings are in the core only when it was built with SEQ2SEQ=1 (see crate/Cargo.toml, feature seq2seq-wasm);
// without them the tests check the clear error instead and say loudly that the rest did not run.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const CONFIG = { objective: 'seq2seq', nLayer: 1, nHead: 2, nEmbd: 32 };
const built = skip ? false : await tp.seq2seqAvailable();
const notBuilt = skip || (built ? false : 'the wasm core was built without the encoder-decoder (SEQ2SEQ=1 bash scripts/build.sh)');
if (!skip && !built) console.error(`\n!!! SKIPPED SEQ2SEQ PACKAGE TESTS: ${notBuilt}\n`);

test('a core without the encoder-decoder says so clearly', { skip: skip || built }, async () => {
  await assert.rejects(tp.createModel({ config: CONFIG, task: 'reverse' }), /this build of the WebAssembly core has no encoder-decoder.*SEQ2SEQ=1/);
  await assert.rejects(tp.seq2seqTasks(), /no encoder-decoder/);
  assert.equal(tp.resourceCount().model, 0);
});

test('seq2seq on reverse: loss goes down, metrics in the progress, translate = the core greedy, attention maps', { skip: notBuilt }, async () => {
  const tasks = await tp.seq2seqTasks();
  assert.deepEqual(tasks.map((t) => t.name), ['copy', 'reverse', 'sort', 'addition', 'translate']);
  assert.ok(tasks.every((t) => t.description.length > 10));

  const model = await tp.createModel({ config: CONFIG, task: 'reverse', lengths: { min: 3, max: 5 }, trainPairs: 400, valPairs: 12, seed: 2, backend: 'cpu' });
  try {
    assert.ok(model instanceof tp.Seq2SeqModel);
    assert.equal(model.objective, 'seq2seq');
    assert.equal(model.task, 'reverse');
    assert.equal(model.backend, 'cpu');
    assert.equal(model.config.nLayer, 1);
    assert.equal(model.config.vocabSize, model.vocab.length + 3, '<pad>, <bos>, <eos> and the characters');
    assert.ok(model.paramCount > 1000);
    const [pair] = model.pairs({ n: 1 });
    assert.equal(pair.target, Array.from(pair.source).reverse().join(''));

    const progress = [];
    const evals = [];
    const result = await model.train({ steps: 80, batchSize: 16, lr: 5e-3, evalInterval: 40, shownPredictions: 5, onProgress: (p) => progress.push(p), onEval: (e) => evals.push(e) });
    assert.equal(progress.length, 80);
    assert.equal(model.stepCount, 80);
    const first = progress.slice(0, 3).reduce((s, p) => s + p.loss, 0) / 3;
    const last = progress.slice(-3).reduce((s, p) => s + p.loss, 0) / 3;
    assert.ok(last < first * 0.85, `the loss went down: ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    assert.deepEqual(progress.filter((p) => p.eval).map((p) => p.step), [40, 80], 'the metrics ride on the evaluation steps');
    assert.equal(evals.length, 2);
    assert.equal(result.eval, evals[1]);
    for (const e of evals) {
      assert.equal(e.pairs, 12);
      assert.ok(Number.isFinite(e.valLoss) && e.valLoss > 0);
      for (const key of ['exactMatch', 'rouge1', 'rouge2', 'rougeL']) assert.ok(e[key] >= 0 && e[key] <= 1, `${key} ${e[key]}`);
      for (const key of ['bleu', 'chrf']) assert.ok(e[key] >= 0 && e[key] <= 100, `${key} ${e[key]}`);
      assert.equal(e.predictions.length, 5);
    }
    assert.ok(evals[1].valLoss < evals[0].valLoss, 'validation loss went down too');

    // translate() runs the beam search; at width 1 it must give what the core's greedy decoding gave (the
    // evaluation decodes greedily, in Rust).
    for (const p of evals[1].predictions) {
      assert.equal(p.exact, p.prediction === p.target);
      assert.equal(await model.translate(p.source), p.prediction, `greedy for ${p.source}`);
      assert.equal(await model.translate(p.source, { beam: 1 }), p.prediction);
      assert.equal(typeof (await model.translate(p.source, { beam: 3, lengthPenalty: 0.6 })), 'string');
    }
    const short = await model.translate(pair.source, { maxTokens: 1 });
    assert.ok(Array.from(short).length <= 1, 'maxTokens caps the output');

    // Attention of a pair: cross-attention (target x source, with one <pad> column), both self-attentions.
    const maps = await model.attention('abcd', 'dcba');
    assert.equal(maps.nLayer, 1);
    assert.equal(maps.nHead, 2);
    assert.deepEqual(maps.sourceTokens, ['a', 'b', 'c', 'd', '<pad>']);
    assert.deepEqual(maps.decoderTokens, ['<bos>', 'd', 'c', 'b', 'a']);
    assert.deepEqual(maps.outputTokens, ['d', 'c', 'b', 'a', '<eos>']);
    const cross = maps.crossHead(0, 1);
    assert.equal(cross.length, 5 * 5, '(Tt, source + pad)');
    for (let r = 0; r < 5; r++) assert.ok(Math.abs(cross.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0) - 1) < 1e-4, 'rows sum to 1');
    assert.equal(maps.encoderHead(0, 0).length, 4 * 5);
    const dec = maps.decoderHead(0, 0);
    assert.equal(dec.length, 25);
    assert.equal(dec[1], 0, 'the decoder is causal');
    assert.throws(() => maps.crossHead(1, 0), /no layer 1, head 0/);
    const own = await model.attention('abc');
    assert.equal(own.outputTokens.length, Array.from(await model.translate('abc')).length + 1, 'the default target is the greedy output');

    const bytes = await model.save();
    assert.ok(bytes.length > model.paramCount * 4);

    // Bad input: clear errors, the model still works afterwards.
    await assert.rejects(model.translate(''), /source is empty/);
    await assert.rejects(model.translate('a'.repeat(model.config.blockSize + 1)), /more than the encoder's context/);
    await assert.rejects(model.translate('a#c'), /'#' is not a character of this model's vocabulary/);
    await assert.rejects(model.translate('abc', { beam: 0 }), /beam must be a whole number >= 1/);
    await assert.rejects(model.translate('abc', { lengthPenalty: NaN }), /lengthPenalty must be a finite number/);
    await assert.rejects(model.attention('abc', 'x'.repeat(model.config.blockSize + 5)), /could not read the attention/);
    await assert.rejects(model.train({ steps: 1, batchSize: 0 }), /batchSize/);
    await assert.rejects(model.train({ steps: -1 }), /steps must be a whole number/);
    assert.equal(await model.translate(pair.source), await model.translate(pair.source));
  } finally {
    model.dispose();
  }
  await assert.rejects(model.translate('abc'), /disposed/);
});

test('seq2seq: bad options are named', { skip: notBuilt }, async () => {
  await assert.rejects(tp.createModel({ config: CONFIG, task: 'nope' }), /no seq2seq task called 'nope'.*copy, reverse, sort, addition, translate/);
  await assert.rejects(tp.createModel({ config: CONFIG }), /give a task: one of copy, reverse/);
  await assert.rejects(tp.createModel({ config: CONFIG, task: 'copy', backend: 'webgpu' }), /seq2seq trains on the CPU for now/);
  await assert.rejects(tp.createModel({ config: { ...CONFIG, nHead: 3 }, task: 'copy' }), /could not create the seq2seq model/);
  await assert.rejects(tp.createModel({ config: { ...CONFIG, attentionMask: 'causal' }, task: 'copy' }), /config.attentionMask is not an option of an encoder-decoder/);
  await assert.rejects(tp.createModel({ config: CONFIG, task: 'copy', lengths: { min: 5, max: 2 } }), /swap them/);
  await assert.rejects(tp.createModel({ config: CONFIG, task: 'translate', lengths: { min: 2, max: 3 } }), /lengths apply to the algorithmic tasks only/);
  await assert.rejects(tp.Model.create({ config: { objective: 'seq2seq' } }), /an encoder-decoder comes from createModel/);
  assert.equal(tp.resourceCount().model, 0, 'nothing leaked');
});
