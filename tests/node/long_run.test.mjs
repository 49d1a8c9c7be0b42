// Issue 9, long runs: 10,000 training steps and 10,000 generated tokens of a tiny CPU model through the wasm
// build under Node, with the wasm memory and the JS heap measured after a warm-up and at the end. Neither may
// grow beyond a small bound: a leak of a few bytes per step or token would show as pages of wasm memory or
// megabytes of heap over 10,000 of them. Needs the wasm package (`bash scripts/build.sh`, or PKG=<dir>).
//
//   node --test tests/node/long_run.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const pkg = path.resolve(process.env.PKG ?? 'pkg');
const mod = await import(pathToFileURL(path.join(pkg, 'transformer_playground.js')).href);
// initSync returns the module's exports: `memory` is the wasm linear memory the Rust allocator grows.
const wasm = mod.initSync({ module: fs.readFileSync(path.join(pkg, 'transformer_playground_bg.wasm')) });

// A full garbage collection, for heap numbers that count live objects only. `node --test` runs this file in
// a child process without --expose-gc, so the flag is switched on here and `gc` taken from a fresh context.
v8.setFlagsFromString('--expose-gc');
const gc = globalThis.gc ?? vm.runInNewContext('gc');

const PAGE = 64 * 1024; // one page of wasm memory
const MiB = 1024 * 1024;
const STEPS = 10_000;
const TOKENS = 10_000;
const WARMUP = 500;
const config = { vocab_size: 20, n_layer: 1, n_head: 2, n_embd: 16, block_size: 8 };

/** A structured token stream (mostly counting, some noise) the tiny model can learn. */
function tokenStream(n, seed) {
  const out = new Uint32Array(n);
  let state = seed;
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = state % 5 === 0 ? (state >>> 8) % config.vocab_size : i % config.vocab_size;
  }
  return out;
}

function measure() {
  gc();
  gc();
  return { wasm: wasm.memory.buffer.byteLength, heap: process.memoryUsage().heapUsed };
}

function report(what, warm, end, ms) {
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  console.log(
    `${what}: ${ms.toFixed(0)} ms; wasm memory ${kib(warm.wasm)} after warm-up -> ${kib(end.wasm)} at the end ` +
      `(+${end.wasm - warm.wasm} bytes); JS heap ${kib(warm.heap)} -> ${kib(end.heap)} (${end.heap >= warm.heap ? '+' : ''}${kib(end.heap - warm.heap)})`,
  );
}

function trainedModel(seed) {
  const m = new mod.CpuModel(config, seed);
  const tokens = tokenStream(4000, seed);
  m.setTrainingData(tokens.subarray(0, 3600), tokens.subarray(3600), {
    batch_size: 2,
    steps: STEPS,
    lr: 3e-3,
    warmup_steps: 50,
    eval_interval: 1000,
    eval_batches: 2,
    seed,
  });
  return m;
}

test(`${STEPS} training steps keep the wasm memory and the JS heap bounded`, () => {
  const m = trainedModel(1);
  const start = performance.now();
  const losses = [];
  let stats;
  let warm;
  for (let i = 1; i <= STEPS; i++) {
    stats = m.step();
    if (m.evalDue()) m.evaluate();
    if (i === WARMUP) warm = measure();
    if (i % 1000 === 0) losses.push(stats.loss);
  }
  const end = measure();
  report(`${STEPS} steps`, warm, end, performance.now() - start);
  assert.equal(stats.step, STEPS);
  assert.ok(Number.isFinite(stats.loss) && losses.at(-1) < losses[0] * 0.9, `the loss falls: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  // Training allocates its activations, gradients and optimizer state once: no growth at all after warm-up.
  assert.equal(end.wasm - warm.wasm, 0, 'wasm memory does not grow after the warm-up');
  assert.ok(end.heap - warm.heap < 2 * MiB, `JS heap grows by ${end.heap - warm.heap} bytes (bound 2 MiB)`);
  m.free();
});

test(`${TOKENS} generated tokens, one per call with a sliding window and in long calls, keep memory bounded`, () => {
  const m = trainedModel(2);
  for (let i = 0; i < 300; i++) m.step();
  const T = config.block_size;

  // As a page streams: one token per call, the prompt the last T tokens so far, a seed per call.
  const context = [1, 2, 3];
  const generateOne = (i) => {
    const out = m.generate(Uint32Array.from(context.slice(-T)), { max_tokens: 1, temperature: 0.8, seed: i });
    assert.equal(out.length, 1);
    context.push(out[0]);
  };
  let start = performance.now();
  for (let i = 0; i < WARMUP; i++) generateOne(i);
  const warm = measure();
  for (let i = WARMUP; i < TOKENS; i++) generateOne(i);
  const end = measure();
  report(`${TOKENS} tokens one per call`, warm, end, performance.now() - start);
  assert.equal(context.length, 3 + TOKENS);
  assert.ok(context.every((id) => Number.isInteger(id) && id >= 0 && id < config.vocab_size));
  // The context array itself is ~80 KB of JS numbers; the bound leaves room for it and nothing per call.
  assert.equal(end.wasm - warm.wasm, 0, 'wasm memory does not grow while streaming');
  assert.ok(end.heap - warm.heap < 2 * MiB, `JS heap grows by ${end.heap - warm.heap} bytes (bound 2 MiB)`);

  // Long single calls: 10,000 tokens each, far past the block size (the model crops its window itself).
  start = performance.now();
  const first = m.generate(new Uint32Array([1]), { max_tokens: TOKENS, temperature: 0.8, seed: 7 });
  const warmLong = measure();
  let last;
  for (let i = 0; i < 5; i++) last = m.generate(new Uint32Array([1]), { max_tokens: TOKENS, temperature: 0.8, seed: 7 });
  const endLong = measure();
  report(`6 calls of ${TOKENS} tokens`, warmLong, endLong, performance.now() - start);
  assert.equal(first.length, TOKENS);
  assert.deepEqual(last, first, 'the same seed gives the same 10,000 tokens every time');
  // The first long call may grow the heap it reuses (tokens and output: 80 KB); later calls add nothing.
  assert.ok(endLong.wasm - warmLong.wasm <= PAGE, `wasm memory grows by ${endLong.wasm - warmLong.wasm} bytes over 5 more long calls (bound one page)`);
  assert.ok(endLong.heap - warmLong.heap < 2 * MiB, `JS heap grows by ${endLong.heap - warmLong.heap} bytes (bound 2 MiB)`);
  m.free();
});

test('models created and freed in a loop give their wasm memory back', () => {
  const make = () => {
    const m = trainedModel(3);
    for (let i = 0; i < 5; i++) m.step();
    m.generate(new Uint32Array([1]), { max_tokens: 50 });
    m.free();
  };
  for (let i = 0; i < 20; i++) make();
  const warm = measure();
  const start = performance.now();
  for (let i = 0; i < 500; i++) make();
  const end = measure();
  report('500 models created, trained and freed', warm, end, performance.now() - start);
  assert.equal(end.wasm - warm.wasm, 0, 'freed models leave no wasm memory behind');
  assert.ok(end.heap - warm.heap < 2 * MiB, `JS heap grows by ${end.heap - warm.heap} bytes (bound 2 MiB)`);
});
