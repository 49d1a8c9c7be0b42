// Knowledge distillation through the package (Node, CPU): distill() trains a student on the teacher's soft
// targets and the same student without them, and returns both validation curves. The loss op and trainer are
// tested in the core (crate/src/ops/distill_*.rs, crate/src/lab/distill.rs); this checks the package's runs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const TEXT = 'the cat sat on the mat. the dog ran to the log. a bird sang in the tree.\n'.repeat(30);

test('distill() returns the distilled and the baseline curves, the baseline being a plain run of the same student', { skip: skipReason() }, async () => {
  const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
  await tp.init();
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const teacher = await tp.createModel({ tokenizer, config: { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 }, backend: 'cpu', seed: 1 });
  await teacher.train({ text: TEXT, steps: 40, batchSize: 8, lr: 3e-3, evalInterval: 0 });
  const student = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 };
  const options = { teacher, student, text: TEXT, steps: 12, batchSize: 4, lr: 3e-3, evalInterval: 4, alpha: 0.5, temperature: 2, seed: 5 };
  const events = [];
  const result = await tp.distill({ ...options, onEval: (e) => events.push(e) });
  assert.deepEqual(result.distilled.map((e) => e.step), [4, 8, 12]);
  assert.deepEqual(result.baseline.map((e) => e.step), [4, 8, 12]);
  assert.deepEqual(events.map((e) => e.run), ['distilled', 'distilled', 'distilled', 'baseline', 'baseline', 'baseline']);
  assert.ok(Number.isFinite(result.distilledValLoss) && Number.isFinite(result.baselineValLoss));
  assert.equal(result.improvement, result.baselineValLoss - result.distilledValLoss);
  assert.notEqual(result.distilledValLoss, result.baselineValLoss, 'the teacher changes the student');
  console.log(`distilled ${result.distilledValLoss.toFixed(4)} vs baseline ${result.baselineValLoss.toFixed(4)}`);

  // The baseline is the same student trained alone: a plain model with the same seed and options matches it.
  const plain = await tp.createModel({ tokenizer, config: student, backend: 'cpu', seed: 5 });
  const r = await plain.train({ text: TEXT, steps: 12, batchSize: 4, lr: 3e-3, evalInterval: 4, seed: 5 });
  assert.equal(r.eval.valLoss, result.baselineValLoss);
  plain.dispose();

  // Reproducible, and the student comes back as a model that generates.
  const again = await tp.distill(options);
  assert.equal(again.distilledValLoss, result.distilledValLoss);
  assert.equal(typeof (await result.student.generate('the ', { maxTokens: 5 })), 'string');
  assert.equal(result.student.config.nEmbd, 16);
  result.student.dispose();
  again.student.dispose();

  // alpha 0 is the baseline's loss: both runs are then the same (up to the two ops' rounding).
  const same = await tp.distill({ ...options, alpha: 0 });
  assert.ok(Math.abs(same.improvement) < 1e-4, `${same.distilledValLoss} vs ${same.baselineValLoss}`);
  same.student.dispose();

  await assert.rejects(tp.distill({ ...options, alpha: 2 }), /alpha is 2/);
  await assert.rejects(tp.distill({ ...options, temperature: 0 }), /temperature/);
  await assert.rejects(tp.distill({ ...options, student: { ...student, blockSize: 32 } }), /block_size/);
  await assert.rejects(tp.distill({ ...options, text: undefined }), /give text/);
  teacher.dispose();
});
