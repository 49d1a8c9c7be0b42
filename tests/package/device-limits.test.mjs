// Issue 9, bad input: a model config beyond the WebGPU device's limits, through the package API and the
// <transformer-playground> widget (headless Chromium, SwiftShader: 1 GiB per storage binding). The refusal must
// name what is too large and what to shrink, leave nothing alive, and not take the page's memory with it.
// Needs lib/ (bash scripts/build.sh && npm run build:lib) and Chromium.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../scripts/static-server.mjs';
import { launchBrowser, ROOT, skipReason } from './helpers.mjs';

const skip = skipReason({ browser: true });
let server;
let browser;
let page;
let consoleErrors;
let origin;

before(async () => {
  if (skip) return;
  ({ server, url: origin } = await startServer(ROOT));
  ({ browser, page, consoleErrors } = await launchBrowser());
  await page.goto(`${origin}tests/package/fixtures/concurrent.html`);
  await page.waitForFunction(() => customElements.get('transformer-playground'), null, { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  if (server) await new Promise((done) => server.close(done));
});

/** createModel({ config, backend: 'webgpu' }) in the page: the error, the time, and the wasm memory around it. */
const tryCreate = (config) =>
  page.evaluate(async (config) => {
    const tp = await import('/lib/index.js');
    // The glue's default export returns the already-loaded module's exports: `memory` is its linear memory.
    const wasm = await (await import('/lib/wasm/transformer_playground.js')).default();
    const info = await tp.gpuInfo();
    const before = wasm.memory.buffer.byteLength;
    const t0 = performance.now();
    let error = null;
    try {
      (await tp.createModel({ config, backend: 'webgpu' })).dispose();
    } catch (e) {
      error = { name: e.name, message: e.message };
    }
    return { error, ms: performance.now() - t0, before, after: wasm.memory.buffer.byteLength, resources: tp.resourceCount(), limit: info.limits?.maxStorageBufferBindingSize };
  }, config);

test('createModel and the widget refuse a config beyond the WebGPU limits with what to shrink', { skip }, async (t) => {
  // NH x T x T past one binding with a tiny width: the CPU copy the package keeps is small (T x C positions).
  const config = { vocabSize: 16, nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 16385 };
  const result = await tryCreate(config);
  const mib = Math.floor(result.limit / 2 ** 20);
  assert.ok(16385 ** 2 * 4 > result.limit, `the attention map is beyond this adapter's ${mib} MiB`);
  console.log(`createModel: ${JSON.stringify(result.error?.message)} in ${result.ms.toFixed(0)} ms; wasm memory ${result.before} -> ${result.after} bytes`);
  assert.equal(result.error?.name, 'PlaygroundError');
  assert.match(result.error.message, /^could not create the model: the attention map of one sequence \(NH x T x T\) needs \d+\.\d MiB/);
  assert.match(result.error.message, new RegExp(`binds at most ${(result.limit / 2 ** 20).toFixed(1)} MiB per buffer: shrink the context or the number of heads`));
  assert.deepEqual(result.resources, { tokenizer: 0, model: 0, gpu: 0 }, 'nothing is left alive');
  assert.ok(result.after - result.before < 16 * 2 ** 20, `wasm memory grows by ${result.after - result.before} bytes`);

  // The widget shows the same message, and a fixed config trains.
  const widget = await page.evaluate(async (config) => {
    const view = document.createElement('transformer-playground');
    view.setAttribute('corpus', 'copy');
    view.setAttribute('corpus-bytes', '2000');
    view.setAttribute('backend', 'webgpu');
    view.setAttribute('config', JSON.stringify(config));
    view.setAttribute('steps', '3');
    document.getElementById('widgets').append(view);
    await view.updateComplete;
    const refused = { state: view.state, message: view.lastError?.message, shown: view.shadowRoot.textContent };
    view.setAttribute('config', JSON.stringify({ ...config, blockSize: 16 }));
    await view.updateComplete;
    const fixed = { state: view.state, result: await view.train().then((r) => r.steps) };
    view.remove();
    return { refused, fixed };
  }, { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 16385 });
  console.log(`widget: ${widget.refused.state}: ${JSON.stringify(widget.refused.message)}`);
  assert.equal(widget.refused.state, 'error');
  assert.match(widget.refused.message, /attention map of one sequence .* shrink the context or the number of heads/);
  assert.ok(widget.refused.shown.includes('shrink the context or the number of heads'), `the widget shows the reason: ${widget.refused.shown}`);
  assert.deepEqual(widget.fixed, { state: 'ready', result: 3 });
  assert.deepEqual(consoleErrors, []);
});

// createModel builds the CPU copy (CpuModel: all the weights in wasm memory) before the GpuModel checks the
// device's limits, so a config whose weights are themselves beyond a binding (the token embedding) allocates
// them first: measured 16.7 s and wasm memory 2 MB -> 1.07 GB, which a wasm memory never gives back. The
// refusal itself is right. Todo until the limits are checked before the CPU copy is made.
test('a token embedding beyond the WebGPU limits is refused before the CPU copy is allocated', { skip }, async (t) => {
  const probe = await tryCreate({ vocabSize: 16, nLayer: 1, nHead: 1, nEmbd: 16, blockSize: 8 });
  // V x C just past one binding, with C = 16 > T = 8 so that the embedding is what overflows.
  const config = { vocabSize: probe.limit / 4 / 16 + 1, nLayer: 1, nHead: 1, nEmbd: 16, blockSize: 8 };
  const result = await tryCreate(config);
  console.log(`createModel: ${JSON.stringify(result.error?.message)} in ${result.ms.toFixed(0)} ms; wasm memory ${result.before} -> ${result.after} bytes`);
  assert.match(result.error?.message ?? '', /token embedding \(V x C\) .* shrink/);
  assert.deepEqual(result.resources, { tokenizer: 0, model: 0, gpu: 0 });
  assert.ok(result.after - result.before < 16 * 2 ** 20, `wasm memory grew by ${result.after - result.before} bytes before the refusal`);
});
