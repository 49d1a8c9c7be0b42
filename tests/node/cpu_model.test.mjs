// The CPU model's JavaScript API under Node: create, train a few steps, evaluate, generate, inspect,
// save and load. Needs the wasm package: `bash scripts/build.sh` (pkg/), or PKG=<wasm-bindgen out dir>.
//
//   node --test tests/node/
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = path.resolve(process.env.PKG ?? 'pkg');
const mod = await import(pathToFileURL(path.join(pkg, 'transformer_playground.js')).href);
mod.initSync({ module: fs.readFileSync(path.join(pkg, 'transformer_playground_bg.wasm')) });

const text = mod.generateCorpus('stories', 1, 30000);
const tok = mod.Tokenizer.trainChar(text);
const ids = tok.encode(text);
const split = Math.floor(ids.length * 0.9);
const config = { vocab_size: tok.vocabSize, n_layer: 2, n_head: 2, n_embd: 32, block_size: 32 };

test('trains, evaluates and generates reproducibly', () => {
  const m = new mod.CpuModel(config, 1);
  assert.ok(m.paramCount > 20000);
  m.setTrainingData(ids.slice(0, split), ids.slice(split), { batch_size: 4, steps: 20, lr: 3e-3, eval_interval: 10 });
  const before = m.evaluate().val_loss;
  let s;
  for (let i = 0; i < 20; i++) s = m.step();
  assert.equal(s.step, 20);
  assert.equal(s.tokens, 4 * 32);
  assert.ok(m.evalDue());
  const after = m.evaluate();
  assert.ok(after.val_loss < before, `${before} -> ${after.val_loss}`);
  assert.ok(Math.abs(after.val_ppl - Math.exp(after.val_loss)) < 1e-6);
  const opts = { max_tokens: 30, temperature: 0.9, top_k: 10, seed: 4 };
  const a = m.generate(tok.encode('Once'), opts);
  assert.ok(a instanceof Uint32Array && a.length === 30);
  assert.deepEqual(m.generate(tok.encode('Once'), opts), a);
  const greedy = m.generate(tok.encode('Once'), { max_tokens: 10, temperature: 0 });
  assert.deepEqual(m.generate(tok.encode('Once'), JSON.stringify({ max_tokens: 10, top_k: 1, seed: 9 })), greedy);
});

test('captures and safetensors round trip', () => {
  const m = new mod.CpuModel(JSON.stringify(config), 2);
  const input = tok.encode('Once upon');
  const att = m.attention(input);
  assert.equal(att.att.length, 2 * 2 * input.length * input.length);
  const d = m.attentionDetail(input, 1, 0, 3);
  assert.deepEqual(d.visible.slice(0, 5), [true, true, true, true, false]);
  const ins = m.inspect(input, 3);
  assert.equal(ins.top_k.length, input.length);
  assert.equal(ins.layernorm.length, 5);
  assert.equal(m.embeddings().wte.length, config.vocab_size * 32);
  const bytes = m.saveSafetensors(tok.toJson());
  const m2 = mod.CpuModel.loadSafetensors(bytes);
  assert.equal(m2.tokenizerJson, tok.toJson());
  assert.deepEqual(m2.inspect(input, 3).top_k, ins.top_k);
  assert.throws(() => mod.CpuModel.loadSafetensors(new Uint8Array([1, 2, 3])), /not a safetensors file/);
  const other = new mod.CpuModel({ ...config, n_layer: 1 }, 1);
  assert.throws(() => other.importSafetensors(bytes), /does not match this model's/);
});

test('bad input is an Error with a reason', () => {
  assert.throws(() => new mod.CpuModel({ ...config, n_head: 3 }, 1), /not divisible by n_head 3/);
  const m = new mod.CpuModel(config, 1);
  assert.throws(() => m.step(), /setTrainingData/);
  assert.throws(() => m.generate(new Uint32Array([999]), {}), /outside the vocabulary/);
  assert.throws(() => m.setTrainingData(ids, ids, { batch_sise: 4 }), /unknown field/);
  assert.throws(() => m.attention(new Uint32Array(40)), /longer than the model's block_size/);
});
