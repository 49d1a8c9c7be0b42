// The overfitting demo through the package (Node, CPU): overfit() trains the same model on a tiny text once per
// variant (none, dropout, weight decay, augmentation) and measures the training and validation losses alike; as
// the core's lab::overfit::tests, random text is memorised (a wide gap) and augmentation makes that harder.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

/** Random tokens of a 12-token vocabulary (a small LCG: any fixed stream will do). */
function randomTokens(n, seed) {
  let state = seed;
  return Uint32Array.from({ length: n }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return Math.floor((state / 2147483648) * 12);
  });
}

test('overfit() shows the gap of a memorised tiny text and what each cure does to it', { skip: skipReason() }, async () => {
  const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
  await tp.init();
  const options = {
    tokens: randomTokens(120, 4),
    valTokens: randomTokens(400, 5),
    config: { vocabSize: 12, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 },
    steps: 60,
    evalInterval: 30,
    batchSize: 8,
    lr: 1e-2,
    warmupSteps: 5,
    evalBatches: 2,
    seed: 9,
    variants: [
      { name: 'none' },
      { name: 'dropout', dropout: 0.2 },
      { name: 'weight_decay', weightDecay: 1.0 },
      { name: 'augment', augment: { replace: 0.2, mask: 0.1 } },
    ],
  };
  const seen = [];
  const { points, summaries } = await tp.overfit({ ...options, onPoint: (p) => seen.push(p) });
  assert.equal(points.length, 4 * 2);
  assert.deepEqual(seen, points);
  assert.deepEqual(points.map((p) => p.step), [30, 60, 30, 60, 30, 60, 30, 60]);
  assert.deepEqual(summaries.map((s) => s.variant), ['none', 'dropout', 'weight_decay', 'augment']);
  const [none, , , augment] = summaries;
  console.log(summaries.map((s) => `${s.variant}: train ${s.trainLoss.toFixed(3)} val ${s.valLoss.toFixed(3)} gap ${s.gap.toFixed(3)}`).join('; '));
  assert.ok(none.gap > 0.5, JSON.stringify(none));
  assert.equal(none.gap, none.valLoss - none.trainLoss);
  assert.ok(augment.trainLoss > none.trainLoss, 'augmentation makes memorising harder');
  // Reproducible: the same runs again give the same numbers.
  const again = await tp.overfit(options);
  assert.deepEqual(again.summaries, summaries);
  await assert.rejects(tp.overfit({ ...options, evalInterval: 0 }), /evalInterval/);
  await assert.rejects(tp.overfit({ ...options, valTokens: undefined }), /validation text/);
});
