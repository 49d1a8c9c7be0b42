// The packed package in a new Node project: it installs from the tarball alone (no dependencies, no install
// scripts), imports through its exports map, trains tokenizers and round-trips text; and its type
// declarations compile under `tsc --strict` in a consumer project.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { installInNewProject, listFiles, pack, ROOT, skipReason } from './helpers.mjs';

const skip = skipReason();
let packed;
let project;

const CONSUMER_MJS = `
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as tp from 'transformer-playground';

const out = {};
out.version = await tp.version();
out.corpora = (await tp.corpora()).map((c) => c.name);
const text = await tp.generateCorpus('stories', { seed: 7, bytes: 20000 });
out.corpusBytes = Buffer.byteLength(text);
out.sameSeedSameText = text === (await tp.generateCorpus('stories', { seed: 7, bytes: 20000 }));

let progressCalls = 0;
const bpe = await tp.trainTokenizer(text, { kind: 'bpe', vocabSize: 400, pattern: 'gpt4', specialTokens: ['<|endoftext|>'],
  onProgress: () => { progressCalls++; } });
out.bpe = { kind: bpe.kind, vocabSize: bpe.vocabSize, progressCalls, endoftext: bpe.specialId('<|endoftext|>') };
const sample = 'Once upon a time, Mia said "héllo" 👋 <|endoftext|>';
const ids = bpe.encode(sample);
out.roundTrip = bpe.decode(ids) === sample && bpe.decode([...ids]) === sample;
out.compression = bpe.stats(text).bytesPerToken;
out.tokens = bpe.tokenize(' the the').map((t) => t.text);

const saved = bpe.save();
const loaded = await tp.loadTokenizer(new TextEncoder().encode(saved));
out.loadedSameIds = [...loaded.encode(sample)].join() === [...ids].join();
// How training ended: the vocabulary full here; a small text for 4096 tokens stops early and says why.
out.training = { full: bpe.training, loaded: loaded.training ?? null, pattern: bpe.pattern, loadedPattern: loaded.pattern, lastMerges: bpe.merges(2) };
const tiny = await tp.trainTokenizer('the cat sat on the mat. '.repeat(10), { vocabSize: 4096, pattern: 'gpt2' });
out.training.early = tiny.training;
tiny.dispose();

const chars = await tp.createTokenizer('abcabc', { kind: 'char' });
out.char = { kind: chars.kind, vocabSize: chars.vocabSize, roundTrip: chars.decode(chars.encode('cab')) === 'cab' };

// A 50 MB text through the package: a character tokenizer learns it, encodes it, and a model trains on it.
{
  const line = 'The quick brown fox jumps over the lazy dog. ';
  const big = line.repeat(Math.ceil((50 * 2 ** 20) / line.length)).slice(0, 50 * 2 ** 20);
  const started = Date.now();
  const bigTokenizer = await tp.trainTokenizer(big, { kind: 'char' });
  const bigIds = bigTokenizer.encode(big);
  const bigModel = await tp.createModel({ tokenizer: bigTokenizer, backend: 'cpu', config: { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 } });
  const result = await bigModel.train({ text: big, steps: 2, batchSize: 2, evalInterval: 0 });
  out.big = { chars: big.length, ids: bigIds.length, vocab: bigTokenizer.vocabSize, loss: result.loss, seconds: (Date.now() - started) / 1000, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) };
  bigModel.dispose();
  bigTokenizer.dispose();
}

const errors = {};
for (const [name, f] of Object.entries({
  smallVocab: () => tp.trainTokenizer(text, { vocabSize: 100 }),
  badKind: () => tp.trainTokenizer(text, { kind: 'wordpiece' }),
  badJson: () => tp.loadTokenizer('{"model": 3'),
  badCorpus: () => tp.generateCorpus('nope'),
  badIds: async () => bpe.decode([1.5]),
  emptyText: () => tp.trainTokenizer('', { vocabSize: 300 }),
  hugeVocab: () => tp.trainTokenizer(text, { vocabSize: 10_000_000 }),
  badPattern: () => tp.trainTokenizer(text, { vocabSize: 300, pattern: 'gpt5' }),
  binaryFile: () => tp.loadTokenizer(new Uint8Array([0xff, 0xfe, 0x00, 0x80])),
  wordPiece: () => tp.loadTokenizer('{"model": {"type": "WordPiece"}}'),
  notText: () => tp.trainTokenizer(42),
  badSeed: () => tp.generateCorpus('stories', { seed: -1 }),
  tooBig: () => tp.generateCorpus('stories', { bytes: 2 ** 30 }),
  throwingCallback: () => tp.trainTokenizer(text, { vocabSize: 300, onProgress: () => { throw new Error('boom'); } }),
  cancelled: () => { const c = new AbortController(); return tp.trainTokenizer(text, { vocabSize: 500, signal: c.signal, onProgress: (p) => { if (p.done === 3) c.abort(); } }); },
})) {
  try { await f(); errors[name] = 'no error'; } catch (e) { errors[name] = { isError: e instanceof Error, name: e.name, message: e.message }; }
}
out.errors = errors;
out.stillWorks = bpe.decode(bpe.encode('after errors')) === 'after errors';

out.gpu = await tp.gpuInfo();
out.selfTest = await tp.gpuSelfTest();
out.before = tp.resourceCount();
bpe.dispose(); loaded.dispose(); chars.dispose();
out.after = tp.resourceCount();
try { bpe.encode('x'); } catch (e) { out.afterDispose = e.message; }

// The exports map: the wasm file and the widgets entry resolve; importing the widgets in Node does not throw.
out.wasmBytes = (await readFile(new URL(import.meta.resolve('transformer-playground/wasm')))).length;
const widgets = await import('transformer-playground/widgets');
out.widgetExports = Object.keys(widgets).sort();
console.log(JSON.stringify(out));
`;

const MODEL_MJS = `
import * as tp from 'transformer-playground';

const out = {};
{
  const text = await tp.generateCorpus('stories', { bytes: 30000 });
  const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
  const model = await tp.createModel({ tokenizer, backend: 'cpu', seed: 3, config: { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32 } });
  out.paramCount = model.paramCount;
  out.backend = model.backend;
  const auto = await tp.createModel({ tokenizer, config: { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 } });
  out.autoReason = auto.backendReason;
  auto.dispose();
  const progress = [];
  const events = [];
  model.addEventListener('progress', (e) => events.push(e.detail.step));
  const result = await model.train({ text, steps: 5, batchSize: 4, lr: 3e-3, evalInterval: 5, onProgress: (p) => progress.push(p) });
  out.steps = progress.map((p) => p.step);
  out.losses = progress.map((p) => p.loss);
  out.events = [...events];
  out.result = { steps: result.steps, hasEval: result.eval !== null, valLoss: result.eval?.valLoss };
  out.stepCount = model.stepCount;
  // Same seed, same weights, same data: the same losses (the run is deterministic).
  const twin = await tp.createModel({ tokenizer, backend: 'cpu', seed: 3, config: { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32 } });
  const twinLosses = [];
  await twin.train({ text, steps: 5, batchSize: 4, lr: 3e-3, evalInterval: 5, onProgress: (p) => twinLosses.push(p.loss) });
  out.deterministic = twinLosses.join() === out.losses.join();
  twin.dispose();
  // Cancel: abort from the progress callback after the second step; the model keeps working.
  const controller = new AbortController();
  try {
    await model.train({ steps: 50, signal: controller.signal, onProgress: (p) => { if (p.done === 2) controller.abort(); } });
    out.cancel = 'not cancelled';
  } catch (e) { out.cancel = { name: e.name, message: e.message, stepCount: model.stepCount }; }
  const generated = await model.generate('Once upon', { maxTokens: 20, temperature: 0 });
  let streamed = '';
  for await (const piece of model.stream('Once upon', { maxTokens: 20, temperature: 0 })) streamed += piece;
  out.generated = { length: [...generated].length, streamedSame: streamed === generated };
  const maps = await model.attention('Once upon a time');
  const rows = [];
  for (let q = 0; q < maps.t; q++) rows.push(maps.head(1, 1).subarray(q * maps.t, (q + 1) * maps.t).reduce((a, b) => a + b, 0));
  out.attention = { t: maps.t, nLayer: maps.nLayer, nHead: maps.nHead, rowsSumToOne: rows.every((r) => Math.abs(r - 1) < 1e-4), causal: maps.head(0, 0)[1] === 0 };
  const bytes = await model.save();
  const loaded = await tp.loadModel(bytes);
  out.loaded = { kind: loaded.tokenizer.kind, sameParams: loaded.paramCount === model.paramCount,
    sameText: (await loaded.generate('Once upon', { maxTokens: 20, temperature: 0 })) === generated };
  const errors = {};
  for (const [name, f] of Object.entries({
    heads: () => tp.createModel({ tokenizer, config: { nHead: 3, nEmbd: 32 } }),
    vocab: () => tp.createModel({ tokenizer, config: { vocabSize: 999 } }),
    webgpu: () => tp.createModel({ tokenizer, backend: 'webgpu' }),
    truncated: () => tp.loadModel(bytes.subarray(0, 100)),
    garbage: () => tp.loadModel(new Uint8Array([255, 255, 255, 255, 255, 255, 255, 127, 1, 2])),
    noData: async () => { const m = await tp.createModel({ tokenizer, config: { nEmbd: 32, nHead: 2, blockSize: 16, nLayer: 1 } }); try { await m.train({ steps: 1 }); } finally { m.dispose(); } },
    shortText: async () => { const m = await tp.createModel({ tokenizer, config: { nEmbd: 32, nHead: 2, blockSize: 16, nLayer: 1 } }); try { await m.train({ text: 'tiny', steps: 1 }); } finally { m.dispose(); } },
    emptyPrompt: () => model.generate('', { maxTokens: 3 }),
    busy: async () => { const running = model.train({ steps: 2 }); try { await model.generate('a'); } finally { await running; } },
  })) {
    try { await f(); errors[name] = 'no error'; } catch (e) { errors[name] = e.message; }
  }
  out.errors = errors;
  out.stillWorks = (await model.generate('Once upon', { maxTokens: 20, temperature: 0 })).length > 0;
  out.before = tp.resourceCount();
  model.dispose(); loaded.dispose(); tokenizer.dispose();
  out.after = tp.resourceCount();
}
console.log(JSON.stringify(out));
`;

const CONSUMER_TS = `
import { createModel, finetune, generateCorpus, gpuInfo, loadModel, loadTokenizer, PlaygroundError, trainTokenizer, type Classification, type FinetuneResult, type FinetuneRunName, type Model, type Tokenizer, type TokenizerProgress, type TrainResult } from 'transformer-playground';
import { AttentionMap, TokenView, TransformerPlaygroundElement } from 'transformer-playground/widgets';

async function main(): Promise<string> {
  const text: string = await generateCorpus('stories', { bytes: 1000, seed: 2 });
  const seen: TokenizerProgress[] = [];
  const tokenizer: Tokenizer = await trainTokenizer(text, { kind: 'bpe', vocabSize: 300, onProgress: (p) => seen.push(p) });
  const ids: Uint32Array = tokenizer.encode(text);
  const back: string = tokenizer.decode(ids);
  const merge: [number, number] = seen[0]!.merge;
  const again: Tokenizer = await loadTokenizer(tokenizer.save());
  const info = await gpuInfo();
  const where: string = info.available ? info.name + String(info.limits.maxBufferSize) : info.reason;
  const model: Model = await createModel({ tokenizer, backend: 'auto', config: { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 } });
  const result: TrainResult = await model.train({ text, steps: 5, onProgress: (p) => console.log(p.loss, p.tokensPerSecond) });
  for await (const piece of model.stream('Once', { maxTokens: 5 })) console.log(piece.length);
  const maps = await model.attention('Once');
  const grid: Float32Array = maps.head(0, 1);
  const saved: Uint8Array = await model.save();
  const loaded: Model = await loadModel(saved, { backend: 'cpu' });
  // @ts-expect-error: there is no 'tpu' backend
  await createModel({ backend: 'tpu' });
  console.log(result.loss, grid.length, loaded.paramCount);
  const tuned: FinetuneResult = await finetune({ encoder: loaded, task: 'template', steps: 2, scratch: true, onEval: (e) => console.log(e.run, e.valAccuracy) });
  const sorted: Classification = await tuned.pretrained.classifier.classify('Mira');
  console.log(sorted.probs[0]?.label, tuned.scratch?.accuracy);
  // @ts-expect-error: the two runs are 'pretrained' and 'scratch'
  const run: FinetuneRunName = 'baseline';
  // @ts-expect-error: the encoder is a Model
  await finetune({ encoder: tokenizer });
  const view: TokenView = document.createElement('token-view');
  view.tokenizer = 'bpe:512';
  view.tokenizerObject = again;
  const map: AttentionMap = document.createElement('attention-map');
  map.layer = 1;
  const mapView = map.maps;
  const box: TransformerPlaygroundElement = document.createElement('transformer-playground');
  const trained: TrainResult = await box.train();
  const written: string = await box.generate();
  console.log(mapView?.t, trained.loss, written, box.model?.paramCount);
  // @ts-expect-error: the kind is 'char' or 'bpe'
  await trainTokenizer(text, { kind: 'wordpiece' });
  // @ts-expect-error: decode takes token ids, not a string
  tokenizer.decode('abc');
  const error: Error = new PlaygroundError('x');
  return back + merge.join() + where + error.message;
}
void main;
`;

before(() => {
  if (skip) return;
  packed = pack();
  project = installInNewProject(packed.tarball, {
    'consumer.mjs': CONSUMER_MJS,
    'model.mjs': MODEL_MJS,
    'src/consumer.ts': CONSUMER_TS,
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
      },
      include: ['src'],
    }),
  });
});

after(() => {
  project?.cleanup();
  packed?.cleanup();
});

test('the tarball holds the built API, the types and the wasm core, and no install scripts', { skip }, () => {
  const files = packed.info.files.map((f) => f.path);
  for (const file of ['lib/index.js', 'lib/index.d.ts', 'lib/widgets.js', 'lib/widgets.d.ts', 'lib/wasm/transformer_playground_bg.wasm', 'lib/wasm/transformer_playground.js', 'package.json']) {
    assert.ok(files.includes(file), `the tarball has ${file}`);
  }
  assert.ok(!files.some((f) => f.startsWith('crate/') || f.startsWith('www/') || f.startsWith('tests/')), 'no sources of other parts');
  const manifest = JSON.parse(readFileSync(join(project.dir, 'node_modules', 'transformer-playground', 'package.json'), 'utf8'));
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts?.[script], undefined, `no ${script} script`);
  assert.equal(manifest.dependencies, undefined, 'no dependencies');
  assert.equal(manifest.exports['./wasm'], './lib/wasm/transformer_playground_bg.wasm');
  const installed = listFiles(join(project.dir, 'node_modules'));
  assert.ok(installed.every((f) => f.startsWith('transformer-playground/') || f === '.package-lock.json'), 'nothing else was installed');
});

test('in a new Node project the package trains tokenizers, round-trips text and reports errors clearly', { skip }, () => {
  const out = JSON.parse(execFileSync(process.execPath, ['consumer.mjs'], { cwd: project.dir, encoding: 'utf8' }));
  const core = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(out.version, core.version);
  assert.deepEqual(out.corpora.slice(0, 2), ['stories', 'copy']);
  assert.ok(out.corpusBytes > 15000 && out.corpusBytes < 25000, `about 20000 bytes (${out.corpusBytes})`);
  assert.equal(out.sameSeedSameText, true);
  assert.equal(out.bpe.kind, 'bpe');
  assert.equal(out.bpe.vocabSize, 400);
  assert.equal(out.bpe.progressCalls, 400 - 256 - 1, 'one progress call per merge');
  assert.equal(typeof out.bpe.endoftext, 'number');
  const { full, early, loaded, pattern, loadedPattern, lastMerges } = out.training;
  assert.equal(full.stop, 'vocabularyFull');
  assert.equal(full.stoppedEarly, false);
  assert.deepEqual([full.vocabAsked, full.vocabSize, full.mergesPossible ?? null], [400, 400, null]);
  assert.equal(full.mergeCounts.length, full.merges);
  assert.match(full.message, /vocabulary is full \(400 tokens\)/);
  assert.equal(loaded, null, 'a loaded tokenizer has no training report');
  assert.deepEqual([pattern, loadedPattern], ['gpt4', 'gpt4'], 'the pattern comes back from tokenizer.json');
  assert.deepEqual(lastMerges.map((m) => m.rank), [full.merges - 2, full.merges - 1]);
  assert.equal(early.stop, 'noPairLeft');
  assert.equal(early.stoppedEarly, true);
  assert.equal(early.mergesPossible, early.merges);
  assert.ok(early.vocabSize < 4096);
  assert.match(early.message, /no pair is left to merge .*too small for this vocabulary/);
  assert.equal(out.roundTrip, true);
  assert.ok(out.compression > 2, `BPE compresses the stories (${out.compression} bytes per token)`);
  assert.deepEqual(out.tokens, ['␣the', '␣the'], 'a common word is one token');
  assert.equal(out.loadedSameIds, true);
  assert.deepEqual(out.char, { kind: 'char', vocabSize: 4, roundTrip: true });
  console.log(`50 MB text: ${JSON.stringify(out.big)}`);
  assert.equal(out.big.ids, 50 * 2 ** 20, 'every character of the 50 MB text is a token');
  assert.equal(out.big.vocab, 30, 'the 29 characters of the pangram line and the unknown token');
  assert.ok(Number.isFinite(out.big.loss));

  const e = out.errors;
  for (const [name, error] of Object.entries(e)) assert.equal(error.isError, true, `${name} throws an Error`);
  assert.match(e.smallVocab.message, /^could not train the tokenizer: vocab size 100 is too small/);
  assert.match(e.badKind.message, /the kind must be 'char' or 'bpe' \(got 'wordpiece'\)/);
  assert.match(e.badJson.message, /^could not load the tokenizer: tokenizer.json is not valid JSON/);
  assert.match(e.badCorpus.message, /^could not generate the corpus 'nope'/);
  assert.match(e.badIds.message, /token ids must be whole numbers/);
  assert.match(e.emptyText.message, /the corpus is empty/);
  assert.match(e.hugeVocab.message, /vocab size 10000000 is above the limit/);
  assert.match(e.badPattern.message, /unknown pre-tokenization pattern 'gpt5': use none, gpt2 or gpt4/);
  assert.match(e.binaryFile.message, /^could not load the tokenizer \(the file is not UTF-8 text\)/);
  assert.match(e.wordPiece.message, /"WordPiece" is not supported/);
  assert.match(e.notText.message, /the text must be a string \(got number\)/);
  assert.match(e.badSeed.message, /the seed must be a whole number/);
  assert.match(e.tooBig.message, /more than the 67108864 a page may generate/);
  assert.match(e.throwingCallback.message, /the onProgress callback threw: boom/);
  assert.equal(e.cancelled.name, 'AbortError');
  assert.match(e.cancelled.message, /cancelled/);
  assert.equal(out.stillWorks, true, 'a failed call leaves the tokenizer working');

  assert.deepEqual(out.gpu, { available: false, reason: 'this environment has no WebGPU (navigator.gpu is missing)' });
  assert.equal(out.selfTest.backend, 'cpu');
  assert.deepEqual(out.before, { tokenizer: 3, model: 0, gpu: 0 });
  assert.deepEqual(out.after, { tokenizer: 0, model: 0, gpu: 0 });
  assert.match(out.afterDispose, /disposed/);
  assert.ok(out.wasmBytes > 100_000, 'the wasm core resolves through the exports map');
  assert.ok(out.widgetExports.includes('TokenView'));
});

test('in a new Node project the package trains a model 5 steps on the CPU, generates, saves and loads', { skip }, (t) => {
  const out = JSON.parse(execFileSync(process.execPath, ['model.mjs'], { cwd: project.dir, encoding: 'utf8' }));
  assert.equal(out.backend, 'cpu');
  assert.equal(out.autoReason, 'this environment has no WebGPU (navigator.gpu is missing)', "'auto' says why it took the CPU");
  assert.ok(out.paramCount > 10_000);
  assert.deepEqual(out.steps, [1, 2, 3, 4, 5]);
  assert.deepEqual(out.events, [1, 2, 3, 4, 5], 'a progress event per step');
  assert.ok(out.losses.every(Number.isFinite));
  assert.ok(out.losses[0] > 3 && out.losses[0] < 4.5, `the first loss is about ln(vocab) (${out.losses[0]})`);
  assert.ok(out.losses[4] < out.losses[0], `the loss falls over 5 steps (${out.losses.join(', ')})`);
  assert.deepEqual({ steps: out.result.steps, hasEval: out.result.hasEval }, { steps: 5, hasEval: true });
  assert.equal(out.stepCount, 5);
  assert.equal(out.deterministic, true, 'the same seeds give the same losses');
  assert.equal(out.cancel.name, 'AbortError');
  assert.equal(out.cancel.stepCount, 7, 'cancelled after the second step of the next call');
  assert.deepEqual(out.generated, { length: 20, streamedSame: true });
  assert.deepEqual(out.attention, { t: 16, nLayer: 2, nHead: 2, rowsSumToOne: true, causal: true });
  assert.deepEqual(out.loaded, { kind: 'char', sameParams: true, sameText: true });
  const e = out.errors;
  assert.match(e.heads, /^could not create the model: .*head/);
  assert.match(e.vocab, /config.vocabSize 999 does not match the tokenizer's/);
  assert.equal(e.webgpu, 'could not create the model: WebGPU is not available: this environment has no WebGPU (navigator.gpu is missing)');
  assert.match(e.truncated, /^could not load the model: /);
  assert.match(e.garbage, /^could not load the model: /);
  assert.match(e.noData, /no training data yet: pass text/);
  assert.match(e.shortText, /^could not set the training data: .*tokens/);
  assert.match(e.emptyPrompt, /the prompt is empty/);
  assert.match(e.busy, /the model is busy \(training\)/);
  assert.equal(out.stillWorks, true);
  assert.deepEqual(out.before, { tokenizer: 2, model: 2, gpu: 0 }, 'the loaded model owns the tokenizer from its file');
  assert.deepEqual(out.after, { tokenizer: 0, model: 0, gpu: 0 });
});

test('the type declarations compile under tsc --strict in a consumer project (and reject wrong calls)', { skip }, () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  assert.ok(existsSync(tsc));
  let output = '';
  try {
    output = execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFiles'], { cwd: project.dir, encoding: 'utf8' });
  } catch (error) {
    assert.fail(`tsc --strict failed:\n${error.stdout}${error.stderr}`);
  }
  const read = output.split('\n').filter((line) => line.includes('node_modules/transformer-playground/'));
  assert.ok(read.some((f) => f.endsWith('lib/index.d.ts')) && read.some((f) => f.endsWith('lib/widgets.d.ts')), 'the package types were used');
  assert.ok(!read.some((f) => f.includes('lib/wasm/')), 'the generated wasm glue types stay out of the public types');
});
