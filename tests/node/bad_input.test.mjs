// Bad input through the wasm API (issue 9): every case throws a JavaScript Error with a specific message,
// never a panic (which would surface as a WebAssembly.RuntimeError "unreachable"), and the objects made
// before the failure keep working. Needs the wasm package: `bash scripts/build.sh` (pkg/), or PKG=<dir>.
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

// Calls fn, which must throw a plain Error (not a wasm trap) whose message matches `pattern`.
function throwsClean(fn, pattern) {
  let error;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected an error matching ${pattern}`);
  assert.ok(!(error instanceof WebAssembly.RuntimeError), `a wasm trap: ${error}`);
  assert.ok(error instanceof Error, `not an Error: ${error}`);
  assert.doesNotMatch(error.message, /unreachable|panicked|RuntimeError/);
  assert.match(error.message, pattern);
  return error.message;
}

const text = mod.generateCorpus('stories', 1, 8000);
const config = (vocab) => ({ vocab_size: vocab, n_layer: 1, n_head: 2, n_embd: 16, block_size: 16 });

test('tokenizer training: empty corpus, vocab too small and too large', () => {
  const tok = mod.Tokenizer.trainChar(text);
  const sample = tok.encode('Once upon a time');
  throwsClean(() => mod.Tokenizer.trainChar(''), /corpus is empty/);
  throwsClean(() => mod.Tokenizer.trainBpe('', 300, 'gpt2', []), /corpus is empty/);
  throwsClean(() => mod.Tokenizer.trainBpe(text, 10, 'gpt2', []), /vocab size 10 is too small.*at least 256/);
  throwsClean(() => mod.Tokenizer.trainBpe(text, 10_000_000, 'gpt2', []), /vocab size 10000000 is above the limit of 65536/);
  throwsClean(() => mod.Tokenizer.trainBpe(text, 300, 'gpt2', ['', 'x']), /special token 0 is empty/);
  throwsClean(() => mod.Tokenizer.trainBpe(text, 300, 'gpt9', []), /gpt9/);
  throwsClean(
    () => mod.Tokenizer.trainBpe(text, 300, 'gpt2', [], () => { throw new Error('stop here'); }),
    /progress callback threw: stop here/,
  );
  // The tokenizer trained before still works.
  assert.deepEqual(tok.encode('Once upon a time'), sample);
  assert.equal(tok.decode(sample), 'Once upon a time');
  const bpe = mod.Tokenizer.trainBpe(text, 300, 'gpt2', []);
  assert.equal(bpe.vocabSize, 300);
});

test('binary and invalid UTF-8 text trains and round-trips; binary bytes are not a model', () => {
  const bytes = new Uint8Array(512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 197 + 13) & 255;
  // Invalid UTF-8 becomes U+FFFD on the way into a string; a lone surrogate does too on the way into wasm.
  const binary = new TextDecoder().decode(bytes) + 'a\uD800b\u0000';
  const tok = mod.Tokenizer.trainChar(binary);
  const ids = tok.encode(binary);
  assert.equal(tok.decode(ids), binary.replace('\uD800', '\uFFFD'));
  const bpe = mod.Tokenizer.trainBpe(binary, 300, 'gpt4', []);
  assert.equal(bpe.decode(bpe.encode(binary)), binary.replace('\uD800', '\uFFFD'));
  throwsClean(() => mod.CpuModel.loadSafetensors(bytes), /not a safetensors file/);
  // A header length that fits, followed by invalid UTF-8.
  const bad = new Uint8Array(8 + 16);
  new DataView(bad.buffer).setBigUint64(0, 16n, true);
  bad.fill(0xff, 8);
  throwsClean(() => mod.CpuModel.loadSafetensors(bad), /not a safetensors file/);
  assert.equal(tok.decode(ids), binary.replace('\uD800', '\uFFFD'));
});

test('malformed tokenizer.json and token ids outside the vocabulary', () => {
  const tok = mod.Tokenizer.trainBpe(text, 300, 'gpt2', ['<|endoftext|>']);
  const json = tok.toJson();
  throwsClean(() => mod.Tokenizer.fromJson(''), /tokenizer.json is not valid JSON/);
  throwsClean(() => mod.Tokenizer.fromJson('{"model": '), /tokenizer.json is not valid JSON/);
  throwsClean(() => mod.Tokenizer.fromJson('[1, 2]'), /must be a JSON object/);
  throwsClean(() => mod.Tokenizer.fromJson(json.slice(0, json.length / 2)), /not valid JSON/);
  throwsClean(() => mod.Tokenizer.fromJson(json.replace('"BPE"', '"Unigram"')), /Unigram|BPE|model/);
  const v = tok.vocabSize;
  throwsClean(() => tok.decode(new Uint32Array([1, v, 2])), new RegExp(`token id ${v} is not in the vocabulary \\(ids go from 0 to ${v - 1}\\)`));
  throwsClean(() => tok.decode([0xffffffff]), /token id 4294967295 is not in the vocabulary/);
  const ch = mod.Tokenizer.trainChar(text);
  throwsClean(() => ch.decode([ch.vocabSize + 5]), /is not in the vocabulary/);
  // Both still work, and a good file still loads.
  assert.equal(tok.decode(tok.encode('Once upon a time')), 'Once upon a time');
  assert.equal(mod.Tokenizer.fromJson(json).toJson(), json);
  assert.equal(ch.decode(ch.encode('Once')), 'Once');
});

test('model configs that do not fit together', () => {
  throwsClean(() => new mod.CpuModel({ ...config(50), n_head: 3 }, 1), /n_embd 16 is not divisible by n_head 3/);
  throwsClean(() => new mod.CpuModel({ ...config(50), vocab_size: 0 }, 1), /vocab_size is 0/);
  throwsClean(() => new mod.CpuModel({ ...config(50), n_layer: 0 }, 1), /n_layer is 0/);
  throwsClean(() => new mod.CpuModel({ ...config(50), n_embd: 1 << 20, n_head: 1 }, 1), /parameters is more than/);
  throwsClean(() => new mod.CpuModel({ ...config(50), colour: 'red' }, 1), /colour/);
  const m = new mod.CpuModel(config(50), 1);
  assert.ok(m.paramCount > 1000);
});

test('malformed safetensors: truncated, absurd header length, wrong dtype, config mismatch', () => {
  const tok = mod.Tokenizer.trainChar(text);
  const ids = tok.encode(text);
  const m = new mod.CpuModel(config(tok.vocabSize), 1);
  const good = m.saveSafetensors(tok.toJson());
  const probe = tok.encode('Once upon');
  const before = m.inspect(probe, 3).top_k;

  throwsClean(() => mod.CpuModel.loadSafetensors(good.slice(0, good.length - 10)), /safetensors file/);
  throwsClean(() => mod.CpuModel.loadSafetensors(good.slice(0, 5)), /not a safetensors file/);
  throwsClean(() => m.importSafetensors(good.slice(0, good.length / 2)), /safetensors file/);

  const absurd = good.slice();
  new DataView(absurd.buffer).setBigUint64(0, 1n << 40n, true);
  throwsClean(() => mod.CpuModel.loadSafetensors(absurd), /not a safetensors file/);
  throwsClean(() => m.importSafetensors(absurd), /not a safetensors file/);

  // Same-size dtypes reach the dtype check; others fail the size check first.
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(good.slice(8, 8 + n));
  const withHeader = (h) => {
    const hb = new TextEncoder().encode(h);
    const out = new Uint8Array(8 + hb.length + good.length - 8 - n);
    new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
    out.set(hb, 8);
    out.set(good.slice(8 + n), 8 + hb.length);
    return out;
  };
  throwsClean(() => mod.CpuModel.loadSafetensors(withHeader(header.replace('"F32"', '"I32"'))), /is I32; this model loads float32 \(F32\) only/);
  throwsClean(() => m.importSafetensors(withHeader(header.replace('"F32"', '"F16"'))), /safetensors|F16/);
  throwsClean(() => mod.CpuModel.loadSafetensors(withHeader(header.replaceAll('"F32"', '"BF16"'))), /safetensors|BF16/);
  // Config in the metadata that its tensors do not fit, and one with no tensors at all.
  throwsClean(() => mod.CpuModel.loadSafetensors(withHeader(header.replace('\\"n_embd\\":16', '\\"n_embd\\":32'))), /shape|bytes/);
  throwsClean(() => mod.CpuModel.loadSafetensors(withHeader(header.replace('model_config', 'other_key'))), /has no `model_config`/);
  // A model of another config.
  const other = new mod.CpuModel({ ...config(tok.vocabSize), n_layer: 2 }, 1);
  throwsClean(() => other.importSafetensors(good), /does not match this model's/);
  throwsClean(() => new mod.CpuModel(config(tok.vocabSize + 1), 1).importSafetensors(good), /does not match this model's/);

  // Nothing changed: same predictions, the model trains, and the good file still loads.
  assert.deepEqual(m.inspect(probe, 3).top_k, before);
  m.setTrainingData(ids.slice(0, 2000), ids.slice(2000, 2400), { batch_size: 2, steps: 2, lr: 1e-3 });
  assert.equal(m.step().step, 1);
  assert.deepEqual(mod.CpuModel.loadSafetensors(good).inspect(probe, 3).top_k, before);
});

test('token ids outside the vocabulary going into the model', () => {
  const m = new mod.CpuModel(config(50), 1);
  throwsClean(() => m.generate([0, 50], { max_tokens: 3 }), /50/);
  throwsClean(() => m.inspect([1, 99999], 3), /99999/);
  throwsClean(() => m.setTrainingData([1, 2, 3, 70, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], [], { batch_size: 1, seq_len: 4 }), /70/);
  assert.equal(m.generate([1, 2], { max_tokens: 4, temperature: 0 }).length, 4);
});

test('a learning rate that diverges: step throws "diverged" and keeps the last good weights', () => {
  const tok = mod.Tokenizer.trainChar(text);
  const ids = tok.encode(text);
  const m = new mod.CpuModel(config(tok.vocabSize), 1);
  const start = m.saveSafetensors();
  throwsClean(() => m.setTrainingData(ids.slice(0, 3000), ids.slice(3000), { lr: -1 }), /lr|learning rate/);
  // JSON has no Infinity or NaN: the field is named, not reported as "invalid type: null".
  throwsClean(() => m.setTrainingData(ids.slice(0, 3000), ids.slice(3000), { lr: Infinity }), /training options: `lr` is Infinity; it must be a finite number/);
  throwsClean(() => m.setTrainingData(ids.slice(0, 3000), ids.slice(3000), { weight_decay: NaN }), /training options: `weight_decay` is NaN/);
  m.setTrainingData(ids.slice(0, 3000), ids.slice(3000), { batch_size: 2, steps: 100, lr: 1e35, grad_clip: 0, warmup_steps: 0 });
  let last = m.saveSafetensors();
  let message;
  for (let i = 0; i < 50 && message === undefined; i++) {
    try {
      m.step();
      last = m.saveSafetensors();
    } catch (e) {
      message = throwsClean(() => { throw e; }, /training diverged: .* The weights of step \d+ are kept; lower the learning rate/);
    }
  }
  assert.ok(message, 'lr 1e35 should diverge within 50 steps');
  assert.deepEqual(m.saveSafetensors(), last, 'the weights are those of the last good step');
  throwsClean(() => m.step(), /training diverged/);
  // Recover: load the snapshot from before training and train with a sane learning rate.
  m.importSafetensors(start);
  m.setTrainingData(ids.slice(0, 3000), ids.slice(3000), { batch_size: 2, steps: 5, lr: 1e-3 });
  const s = m.step();
  assert.equal(s.step, 1);
  assert.ok(Number.isFinite(s.loss));
});

test('fine-tuning bindings: a causal model, an unknown task, no tokenizer, no head, bad passages', () => {
  const tok = mod.Tokenizer.trainChar(text);
  const mlm = { ...config(tok.vocabSize + 1), objective: 'mlm', attention_mask: 'bidirectional' };
  const causal = new mod.CpuModel(config(tok.vocabSize), 1);
  throwsClean(() => causal.withClassifier('template', false, 1), /attention is causal.*masked-language/);
  const encoder = mod.CpuModel.loadSafetensors(new mod.CpuModel(mlm, 1).saveSafetensors(tok.toJson()));
  throwsClean(() => encoder.withClassifier('sentiment', false, 1), /no classification task called 'sentiment'/);
  throwsClean(() => encoder.setClassifyData('template', 16, 16, { batch_size: 8 }), /no classification head/);
  throwsClean(() => encoder.classProbabilities(tok.encode('Mira')), /no classification head/);
  const classifier = encoder.withClassifier('template', false, 1);
  throwsClean(() => classifier.classProbabilities(new Uint32Array()), /empty/);
  throwsClean(() => classifier.classProbabilities(new Uint32Array(17)), /17 tokens, more than the classifier's context of 16/);
  throwsClean(() => classifier.setClassifyData('template', 16, 16, { batch_size: 8, seq_len: 17 }), /block_size 16/);
  throwsClean(() => classifier.setClassifyData('template', 16, 16, { batch_size: 8, lr: -1 }), /learning rates/);
  throwsClean(() => classifier.setClassifyData('template', 16, 16, { bach_size: 8 }), /bach_size/);
  throwsClean(() => classifier.step(), /no training data yet/);
  // A classifier made without a tokenizer cannot encode the passages.
  const bare = new mod.CpuModel(mlm, 1).withClassifier('template', true, 1);
  throwsClean(() => bare.setClassifyData('template', 16, 16, { batch_size: 8 }), /no tokenizer/);
  // After all that, the classifier still trains and classifies.
  classifier.setClassifyData('template', 16, 16, { batch_size: 8, eval_batches: 2, steps: 1, eval_interval: 1 });
  classifier.step();
  assert.ok(classifier.evalDue());
  assert.ok(classifier.evaluate().val_accuracy >= 0);
  const probs = classifier.classProbabilities(tok.encode('a gift for Tom'));
  assert.equal(probs.length, 4);
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.deepEqual(JSON.parse(mod.classifyTasks()).map((t) => t.classes), [['lost', 'walk', 'gift', 'week']]);
});
