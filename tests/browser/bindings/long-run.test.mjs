// Issue 9, long runs on WebGPU: a tiny GpuModel trains and generates for a long time in headless Chromium
// (SwiftShader) while the test measures, after a warm-up and at the end:
//   - GPU buffers alive (created and neither destroyed nor garbage-collected), counted by the fixture's
//     wrappers around GPUDevice.prototype.createBuffer and GPUBuffer.prototype.destroy;
//   - the wasm module's linear memory (memory.buffer.byteLength);
//   - the JS heap, after a full garbage collection (DevTools protocol: HeapProfiler.collectGarbage and
//     Runtime.getHeapUsage, which need no launch flag and are exact, where performance.memory is coarse).
// None may grow beyond a small bound. The fixture is tests/browser/bindings/fixtures/long-run.{html,js}.
//
// SwiftShader runs about 40-60 ms per training step and 13-21 ms per generated token of this tiny model (2
// shared cores), so by default the test runs 1,000 of each (about 2 minutes); LONG_RUN_FULL=1 runs the 10,000
// steps and 10,000 tokens of the issue (22 minutes here). LONG_RUN_STEPS / LONG_RUN_TOKENS set other counts.
//
//   node --test --test-concurrency=1 tests/browser/bindings/long-run.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPage, skipReason } from '../harness.mjs';

const FULL = process.env.LONG_RUN_FULL === '1' || process.env.LONG_RUN_FULL === 'true';
const STEPS = Number(process.env.LONG_RUN_STEPS ?? (FULL ? 10_000 : 1_000));
const TOKENS = Number(process.env.LONG_RUN_TOKENS ?? (FULL ? 10_000 : 1_000));
const WARMUP_STEPS = 100;
// Generation builds one forward plan per window length and one decode plan per cache length, all at most
// block_size (8): a warm-up of 100 tokens has seen every one.
const WARMUP_TOKENS = 100;
const MiB = 1024 * 1024;
const PAGE = 64 * 1024;
const config = { vocab_size: 20, n_layer: 1, n_head: 2, n_embd: 16, block_size: 8 };
const trainOptions = { batch_size: 2, steps: STEPS, lr: 3e-3, warmup_steps: 50, eval_interval: 0, seed: 1 };

const skip = skipReason();
let session;
let cdp;

before(async () => {
  if (skip) return;
  session = await openPage('tests/browser/bindings/fixtures/long-run.html', { root: 'repo' });
  await session.page.waitForFunction(() => window.longRun || window.longRunError, null, { timeout: 120_000 });
  const error = await session.page.evaluate(() => window.longRunError);
  assert.equal(error, undefined, `the fixture started: ${error}`);
  cdp = await session.page.context().newCDPSession(session.page);
  await cdp.send('HeapProfiler.enable');
  const adapter = await session.page.evaluate(() => window.longRun.adapter);
  console.log(`adapter: ${adapter.name || '(unnamed)'} ${adapter.backend}; ${STEPS} steps, ${TOKENS} tokens${FULL ? ' (full run)' : ''}`);
});

after(async () => {
  await session?.close();
});

/** Buffers, wasm memory and JS heap after a full collection (and the finalizers it lets run). */
async function measure() {
  await cdp.send('HeapProfiler.collectGarbage');
  // FinalizationRegistry callbacks run in a later task: give them one, then collect what they freed.
  await session.page.evaluate(() => new Promise((done) => setTimeout(done, 50)));
  await cdp.send('HeapProfiler.collectGarbage');
  await session.page.evaluate(() => new Promise((done) => setTimeout(done, 50)));
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const stats = await session.page.evaluate(() => window.longRun.stats());
  return { ...stats, heap: usedSize };
}

function report(what, warm, end, ms, count) {
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  const b = end.buffers;
  console.log(
    `${what}: ${(ms / 1000).toFixed(1)} s (${(ms / count).toFixed(1)} ms each); ` +
      `GPU buffers alive ${warm.buffers.alive} (${kib(warm.buffers.aliveBytes)}) -> ${b.alive} (${kib(b.aliveBytes)}), ` +
      `created ${b.created - warm.buffers.created} more, destroyed ${b.destroyed - warm.buffers.destroyed}, ` +
      `garbage-collected ${b.collected - warm.buffers.collected}; ` +
      `wasm memory ${kib(warm.wasmBytes)} -> ${kib(end.wasmBytes)}; JS heap ${kib(warm.heap)} -> ${kib(end.heap)}`,
  );
}

/** The bounds every phase keeps after its warm-up. */
function assertBounded(what, warm, end, { wasmPages = 0 } = {}) {
  assert.equal(end.buffers.alive, warm.buffers.alive, `${what}: GPU buffers alive after warm-up stay ${warm.buffers.alive}`);
  assert.equal(end.buffers.aliveBytes, warm.buffers.aliveBytes, `${what}: GPU bytes alive stay the same`);
  const grew = end.wasmBytes - warm.wasmBytes;
  assert.ok(grew <= wasmPages * PAGE, `${what}: wasm memory grows by ${grew} bytes (bound ${wasmPages} pages)`);
  assert.ok(end.heap - warm.heap < 2 * MiB, `${what}: JS heap grows by ${end.heap - warm.heap} bytes (bound 2 MiB)`);
}

test(`${STEPS} training steps on WebGPU keep GPU buffers, wasm memory and JS heap bounded`, { skip }, async () => {
  const { page } = session;
  await page.evaluate(([c, o]) => window.longRun.setup(c, o, 1), [config, trainOptions]);
  const first = await page.evaluate((n) => window.longRun.train(n, 10), WARMUP_STEPS);
  const warm = await measure();
  const rest = await page.evaluate((n) => window.longRun.train(n, 100), STEPS - WARMUP_STEPS);
  const end = await measure();
  report(`${STEPS} steps`, warm, end, first.ms + rest.ms, STEPS);
  assert.equal(rest.step, STEPS);
  assert.ok(Number.isFinite(rest.loss), `the last loss is finite: ${rest.loss}`);
  assert.ok(rest.loss < first.losses[0] * 0.8, `the loss falls: ${first.losses[0]} -> ${rest.loss}`);
  // Each step makes one mappable readback buffer that wgpu never destroy()s: the collector frees it.
  const perStep = (end.buffers.created - warm.buffers.created) / (STEPS - WARMUP_STEPS);
  console.log(`buffers created per step after warm-up: ${perStep.toFixed(2)}`);
  assert.ok(perStep <= 2, `at most two new (short-lived) buffers per step, not ${perStep}`);
  assertBounded('training', warm, end);
});

test(`${TOKENS} tokens generated on WebGPU one per call (a sliding window, as the page streams) stay bounded`, { skip }, async () => {
  const { page } = session;
  const first = await page.evaluate((n) => window.longRun.generate(n, 1), WARMUP_TOKENS);
  const warm = await measure();
  const rest = await page.evaluate((n) => window.longRun.generate(n, 1), TOKENS - WARMUP_TOKENS);
  const end = await measure();
  report(`${TOKENS} tokens, one per call`, warm, end, first.ms + rest.ms, TOKENS);
  assert.equal(rest.tokens, TOKENS - WARMUP_TOKENS);
  assertBounded('generation one token per call', warm, end);
});

test(`${TOKENS} tokens generated on WebGPU in chunks of 50 and in long single calls stay bounded`, { skip }, async () => {
  const { page } = session;
  // One token per call only ever prefills; chunks run the KV-cache decode, whose plans (one per cache
  // position) the warm-up builds.
  const firstChunks = await page.evaluate((n) => window.longRun.generate(n, 50), WARMUP_TOKENS);
  const warmChunks = await measure();
  const chunks = await page.evaluate((n) => window.longRun.generate(n, 50), TOKENS - WARMUP_TOKENS);
  const endChunks = await measure();
  report(`${TOKENS} tokens in chunks of 50`, warmChunks, endChunks, firstChunks.ms + chunks.ms, TOKENS);
  assertBounded('generation in chunks', warmChunks, endChunks);

  // One call for all the tokens, far past the block size (the KV cache refills from half a window), twice
  // with the same seed: the second call must give the same tokens and leave nothing behind.
  const firstLong = await page.evaluate((n) => window.longRun.generateLong(n, 7), TOKENS);
  const warmLong = await measure();
  const secondLong = await page.evaluate((n) => window.longRun.generateLong(n, 7), TOKENS);
  const endLong = await measure();
  report(`one call of ${TOKENS} tokens`, warmLong, endLong, secondLong.ms, TOKENS);
  assert.equal(firstLong.tokens.length, TOKENS);
  assert.deepEqual(secondLong.tokens, firstLong.tokens, 'the same seed gives the same tokens');
  // The long call's token list (4 bytes a token) may take a page of the allocator's heap the first time.
  assertBounded('one long generation', warmLong, endLong, { wasmPages: 1 });
  assert.deepEqual(session.consoleErrors, []);
});

test('a freed GpuModel gives its GPU buffers to the collector, and a new one reuses the device', { skip }, async () => {
  const { page } = session;
  const before = await measure();
  await page.evaluate(() => window.longRun.free());
  const freed = await measure();
  console.log(`GPU buffers alive: ${before.buffers.alive} with the model, ${freed.buffers.alive} after free() and a collection`);
  // wgpu drops the model's buffers without destroy(); once collected only the device's placeholder remains.
  assert.ok(freed.buffers.alive <= 1, `${freed.buffers.alive} buffers still alive after free(): ${JSON.stringify(freed.buffers.aliveByLabel)}`);
  for (let i = 0; i < 20; i++) {
    await page.evaluate(([c, o, seed]) => window.longRun.setup(c, o, seed), [config, { ...trainOptions, steps: 5 }, i + 1]);
    await page.evaluate(() => window.longRun.train(2, 1));
    await page.evaluate(() => window.longRun.generate(5, 5));
  }
  await page.evaluate(() => window.longRun.free());
  const end = await measure();
  console.log(`after 20 models made, trained and freed: ${end.buffers.alive} buffers alive; wasm memory ${end.wasmBytes} bytes; JS heap ${end.heap} bytes`);
  assert.ok(end.buffers.alive <= 1, `${end.buffers.alive} buffers alive after 20 freed models`);
  assert.ok(end.heap - freed.heap < 2 * MiB, `JS heap grows by ${end.heap - freed.heap} bytes`);
});

// Issue 9, bad input: a config beyond the device's limits. The wasm GpuModel checks the config against the
// adapter's limits before it builds the model, so the refusal says what to shrink and allocates nothing.
test('a config beyond the WebGPU device\'s limits is refused with what to shrink, without growing wasm memory', { skip }, async () => {
  const { page } = session;
  const adapter = await page.evaluate(() => window.longRun.adapter);
  const maxFloats = adapter.max_storage_buffer_binding_size / 4;
  const cases = [
    // V x C past one binding (C = 16 > T = 8, so the embedding is the first to overflow).
    { what: 'token embedding (V x C)', config: { vocab_size: maxFloats / 16 + 1, n_layer: 1, n_head: 1, n_embd: 16, block_size: 8 } },
    // NH x T x T past one binding with a tiny width.
    { what: 'attention map of one sequence (NH x T x T)', config: { vocab_size: 16, n_layer: 1, n_head: 1, n_embd: 8, block_size: Math.floor(Math.sqrt(maxFloats)) + 1 } },
  ];
  for (const { what, config: big } of cases) {
    const result = await page.evaluate((c) => window.longRun.tryModel(c), big);
    console.log(`${what}: ${JSON.stringify(result.error?.message)} in ${result.ms.toFixed(1)} ms; wasm memory ${result.before} -> ${result.after} bytes`);
    assert.ok(result.error, `${what}: refused`);
    assert.equal(result.error.name, 'Error', 'a plain Error, not a RuntimeError (panic)');
    assert.ok(result.error.message.includes(what), result.error.message);
    // The limit in MiB with one decimal, or in bytes where the size and the limit would round alike.
    const limit = adapter.max_storage_buffer_binding_size;
    assert.ok(result.error.message.includes(`binds at most ${(limit / MiB).toFixed(1)} MiB`) || result.error.message.includes(`binds at most ${limit} bytes`), result.error.message);
    assert.ok(result.error.message.includes('shrink'), result.error.message);
    assert.equal(result.after, result.before, `${what}: nothing was allocated`);
  }
  // The device still works: a tiny model trains after the refusals.
  await page.evaluate(([c, o]) => window.longRun.setup(c, o, 1), [config, { ...trainOptions, steps: 3 }]);
  const r = await page.evaluate(() => window.longRun.train(3, 1));
  assert.equal(r.step, 3);
  assert.ok(Number.isFinite(r.loss));
  await page.evaluate(() => window.longRun.free());
  assert.deepEqual(session.consoleErrors, []);
});
