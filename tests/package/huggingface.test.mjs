// Hugging Face directories and LoRA through the package, in Node on the CPU, on the fixture transformers wrote
// (crate/tests/fixtures/hf, made by make_fixtures.py there): its greedy tokens, a round trip through
// saveHuggingFace, LoRA training of the adapters alone, a PEFT adapter in and out, and clear errors.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
const tp = skip ? null : await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
const FIXTURES = join(ROOT, 'crate', 'tests', 'fixtures', 'hf');
const files = (dir) => Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'tiny-gpt2-expected.json'), 'utf8'));

test('a transformers GPT-2 directory loads, generates its greedy tokens and goes out again', { skip }, async () => {
  const model = await tp.Model.loadHuggingFace(files(join(FIXTURES, 'tiny-gpt2')), { backend: 'cpu' });
  try {
    assert.equal(model.config.vocabSize, 320);
    const { ids, greedy_ids: greedy } = expected.cases[0];
    const out = await model.generateIds(Uint32Array.from(ids), { maxTokens: greedy.length, temperature: 0 });
    assert.deepEqual([...out], greedy);
    const saved = await model.saveHuggingFace();
    assert.deepEqual(Object.keys(saved).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    assert.equal(JSON.parse(new TextDecoder().decode(saved['config.json'])).activation_function, 'gelu_new');
    const again = await tp.Model.loadHuggingFace(saved, { backend: 'cpu' });
    try {
      assert.deepEqual([...(await again.generateIds(Uint32Array.from(ids), { maxTokens: greedy.length, temperature: 0 }))], greedy);
    } finally {
      again.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('LoRA: only the adapters train, a PEFT adapter goes in and out, merging gives a plain model', { skip }, async () => {
  const model = await tp.Model.loadHuggingFace(files(join(FIXTURES, 'tiny-gpt2')), { backend: 'cpu' });
  try {
    const all = model.paramCount;
    const full = model.trainingBytes({ batchSize: 2, seqLen: 16 });
    assert.equal(full, tp.modelSize(model.config, { batchSize: 2, seqLen: 16 }).trainingBytes, 'a plain model counts as modelSize does');
    await model.addLora({ rank: 2, targets: ['mlp.c_proj', 'c_attn'] });
    // The frozen weights lose their gradients and two AdamW moments (12 bytes each); the adapters add theirs.
    const lora = model.trainingBytes({ batchSize: 2, seqLen: 16 });
    assert.ok(lora < full - 12 * all + 16 * 1152 + 4 * 2 * 16 * 600, `LoRA ${lora} bytes < full ${full} bytes`);
    assert.ok(lora > full - 12 * all, `${lora} keeps the frozen weights and the activations`);
    // 2 blocks x r=2 x ((32 + 96) + (128 + 32)).
    assert.equal(model.trainableCount, 1152);
    assert.equal(model.paramCount, all + 1152);
    await model.train({ text: 'Once upon a time the robot counted the stars. '.repeat(30), steps: 3, batchSize: 2 });
    const adapter = await model.saveAdapter();
    assert.deepEqual(Object.keys(adapter).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    assert.equal(JSON.parse(new TextDecoder().decode(adapter['adapter_config.json'])).fan_in_fan_out, true);
    await model.mergeLora();
    assert.equal(model.trainableCount, all);
    await model.loadAdapter(files(join(FIXTURES, 'tiny-gpt2-lora')));
    assert.equal(model.trainableCount, 2 * 4 * (128 + 64 + 160 + 160), 'the fixture adapter: r = 4 on every layer');
  } finally {
    model.dispose();
  }
});

test('bad directories and options are errors that say what is wrong', { skip }, async () => {
  const dir = files(join(FIXTURES, 'tiny-gpt2'));
  const { ['model.safetensors']: weights, ...rest } = dir;
  await assert.rejects(tp.Model.loadHuggingFace({ ...rest, 'pytorch_model.bin': weights }), /pickle/);
  await assert.rejects(tp.Model.loadHuggingFace({ ...dir, 'config.json': new TextEncoder().encode('{"model_type": "llama"}') }), /"llama"/);
  const model = await tp.createModel({ config: { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, positional: 'rope', vocabSize: 20 }, backend: 'cpu' });
  try {
    await assert.rejects(model.saveHuggingFace(), /rotary/);
    await assert.rejects(model.addLora({ rank: 0 }), /rank/);
    await assert.rejects(model.saveAdapter(), /no LoRA adapters/);
  } finally {
    model.dispose();
  }
});
