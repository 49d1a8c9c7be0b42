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

const chars = await tp.createTokenizer('abcabc', { kind: 'char' });
out.char = { kind: chars.kind, vocabSize: chars.vocabSize, roundTrip: chars.decode(chars.encode('cab')) === 'cab' };

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

const CONSUMER_TS = `
import { generateCorpus, gpuInfo, loadTokenizer, PlaygroundError, trainTokenizer, type Tokenizer, type TokenizerProgress } from 'transformer-playground';
import { TokenView } from 'transformer-playground/widgets';

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
  const view: TokenView = document.createElement('token-view');
  view.tokenizer = 'bpe:512';
  view.tokenizerObject = again;
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
  assert.equal(out.roundTrip, true);
  assert.ok(out.compression > 2, `BPE compresses the stories (${out.compression} bytes per token)`);
  assert.deepEqual(out.tokens, ['␣the', '␣the'], 'a common word is one token');
  assert.equal(out.loadedSameIds, true);
  assert.deepEqual(out.char, { kind: 'char', vocabSize: 4, roundTrip: true });

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
