// A GPT-2-small-shaped model (124,439,808 parameters, vocabulary 50,257, context 1024) in wasm on the CPU, its
// weights built from a seed here (nothing downloaded): it generates with the KV cache the very tokens the
// native build does (crate/tests/gpt2_small.rs holds the same ids).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262];

test('GPT-2 small generates in wasm what it generates natively', { skip }, async () => {
  const started = performance.now();
  const model = await tp.createModel({ config: { vocabSize: 50257, nLayer: 12, nHead: 12, nEmbd: 768, blockSize: 1024 }, backend: 'cpu', seed: 124 });
  try {
    assert.equal(model.paramCount, 124_439_808);
    const built = performance.now();
    const sampled = await model.generateIds(Uint32Array.from(PROMPT), { maxTokens: 6, temperature: 0.9, topK: 50, topP: 0.95, seed: 5 });
    const greedy = await model.generateIds(Uint32Array.from(PROMPT), { maxTokens: 6, temperature: 0 });
    console.log(`built in ${((built - started) / 1000).toFixed(1)} s, 12 tokens in ${((performance.now() - built) / 1000).toFixed(1)} s`);
    assert.deepEqual([...sampled], [45675, 2028, 47334, 44325, 29152, 48268]);
    assert.deepEqual([...greedy], [30897, 30897, 30897, 30897, 30897, 30897]);
  } finally {
    model.dispose();
  }
});
