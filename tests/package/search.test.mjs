// The hyperparameter search through the package (Node, CPU): the CLI's search (crate/src/lab/search.rs) driven
// in TypeScript (js/src/lab-search.ts) over the ordinary training API. Its seeded draws are the core's (the same
// numbers are pinned in lab::search::tests), poor trials stop early by successive halving, each record is handed
// out as it finishes, and a search resumed from the records kept so far gives the records of one uninterrupted
// run.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const TEXT = 'the cat sat on the mat. the dog ran to the log. a bird sang in the tree.\n'.repeat(30);

async function load() {
  const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
  await tp.init();
  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  return { tp, tokenizer };
}

test('the search draws the core\'s trial seeds and hyperparameters', { skip: skipReason() }, async () => {
  const { tp, tokenizer } = await load();
  assert.deepEqual([0, 1, 2, 3].map((i) => tp.trialSeed(3, i)), [487265508, 3203108257, 942667852, 1872736331]);
  // Zero-step trials (one rung of 1 step would train; the records' params are what is compared here).
  const { records } = await tp.search({
    space: { lr: { min: 1e-4, max: 1e-2, log: true }, n_embd: [8, 16, 32], n_head: [2], eta: 0 },
    trials: 3, steps: 1, seed: 3, tokenizer, text: TEXT, config: { nLayer: 1, blockSize: 8 }, batchSize: 2, evalBatches: 1,
  });
  const expected = [[0.0008198084309879299, 16], [0.0004345846885996398, 16], [0.008115229523270113, 32]];
  records.forEach((r, i) => {
    assert.equal(r.seed, tp.trialSeed(3, i));
    assert.ok(Math.abs(r.params.lr - expected[i][0]) <= 1e-15 * expected[i][0], `${r.params.lr}`);
    assert.equal(r.params.n_embd, expected[i][1]);
    assert.equal(r.params.n_layer, 1);
    assert.equal(r.status, 'completed');
  });
});

test('poor trials stop early and good ones run the budget', { skip: skipReason() }, async () => {
  const { tp, tokenizer } = await load();
  // As lab::search::tests: half the trials learn at lr 1e-2, half barely move at 1e-6; from the second trial on
  // the hopeless ones stop at the first rung, the learning ones run all 8 steps.
  const { records, best } = await tp.search({
    space: { strategy: 'grid', lr: [0.01, 0.000001, 0.02, 0.000002], eta: 2, rungs: 3 },
    trials: 8, steps: 8, seed: 5, tokenizer, text: TEXT, config: { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8 }, batchSize: 4, evalBatches: 2, warmupSteps: 2,
  });
  assert.equal(records.length, 4, 'the grid holds 4 trials');
  assert.deepEqual(records.map((r) => r.status), ['completed', 'stopped', 'completed', 'stopped']);
  assert.deepEqual(records[1].rungs.map((r) => r.step), [2]);
  assert.deepEqual(records[2].rungs.map((r) => r.step), [2, 4, 8]);
  assert.equal(best.params.lr, 0.02);
  // A shape the model refuses is an invalid trial, not a failed search.
  const bad = await tp.search({ space: { strategy: 'grid', n_head: [3] }, trials: 1, steps: 2, tokenizer, text: TEXT, config: { nEmbd: 8, nLayer: 1, blockSize: 8 }, batchSize: 2 });
  assert.equal(bad.records[0].status, 'invalid');
  assert.match(bad.records[0].error, /head/i);
});

test('search() hands out each record and resumes from the kept ones', { skip: skipReason() }, async () => {
  const { tp, tokenizer } = await load();
  const options = {
    space: { strategy: 'random', lr: { min: 1e-4, max: 3e-2, log: true }, n_embd: [8, 16], eta: 2, rungs: 2 },
    trials: 6,
    steps: 8,
    seed: 4,
    tokenizer,
    text: TEXT,
    config: { nLayer: 1, nHead: 2, blockSize: 16 },
    batchSize: 4,
    evalBatches: 2,
  };
  const seen = [];
  const full = await tp.search({ ...options, onTrial: (r, p) => seen.push([r.trial, p.done, p.total]) });
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5].map((i) => [i, i + 1, 6]));
  assert.equal(full.records.length, 6);
  for (const r of full.records) {
    assert.ok(['completed', 'stopped'].includes(r.status), JSON.stringify(r));
    assert.deepEqual(r.rungs.map((x) => x.step), r.status === 'completed' ? [4, 8] : [4]);
    assert.ok([8, 16].includes(r.params.n_embd));
  }
  assert.ok(full.records.some((r) => r.status === 'stopped'), 'poor trials stop early');
  const completed = full.records.filter((r) => r.status === 'completed');
  assert.equal(full.best.final_val_loss, Math.min(...completed.map((r) => r.final_val_loss)));

  // Interrupted after 3 trials (records kept as JSON, as a page keeps them), then resumed: only the rest run,
  // and the records are those of the uninterrupted run.
  const kept = JSON.parse(JSON.stringify(full.records.slice(0, 3)));
  const resumedSeen = [];
  const resumed = await tp.search({ ...options, done: kept, onTrial: (r) => resumedSeen.push(r.trial) });
  assert.deepEqual(resumedSeen, [3, 4, 5]);
  assert.deepEqual(resumed.records, full.records);

  // An abort stops the search: between trials, and in the middle of one.
  const controller = new AbortController();
  const partial = [];
  await assert.rejects(
    tp.search({ ...options, signal: controller.signal, onTrial: (r) => (partial.push(r), controller.abort()) }),
    (e) => e.name === 'AbortError',
  );
  assert.equal(partial.length, 1);
  const midway = new AbortController();
  await assert.rejects(
    tp.search({ ...options, signal: midway.signal, onStep: (p) => p.step === 3 && midway.abort(), onTrial: () => assert.fail('no trial ends') }),
    (e) => e.name === 'AbortError',
  );

  await assert.rejects(tp.search({ ...options, seed: 5, done: kept }), /another space or seed/);
  await assert.rejects(tp.search({ ...options, space: { strategy: 'grid', lr: { min: 1, max: 2 } } }), /grid search needs a list/);
  await assert.rejects(tp.search({ ...options, space: { learning_rate: [1] } }), /search space is not valid/);
  await assert.rejects(tp.search({ ...options, space: { lr: [] } }), /empty list/);
});
