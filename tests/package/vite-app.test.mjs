// The packed package bundled into a tiny app with Vite (the repository's devDependency), served under the
// strict CSP and run in headless Chromium on WebGPU (SwiftShader): on the main thread and in a module Worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build } from 'vite';
import { startServer } from '../../scripts/static-server.mjs';
import { installInNewProject, launchBrowser, listFiles, pack, screenshot, skipReason } from './helpers.mjs';

const skip = skipReason({ browser: true });

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>tiny app</title>
  <script type="module" src="./main.js"></script>
</head>
<body>
  <h1>A tiny app bundled with Vite</h1>
  <token-view id="view" tokenizer="bpe:300" corpus="stories" text="Once upon a time, there was a dog."></token-view>
</body>
</html>
`;

// What the page and the worker both run: the public API, end to end.
const CHECK_JS = `
import { createModel, loadModel, generateCorpus, gpuInfo, gpuSelfTest, resourceCount, trainTokenizer, version } from 'transformer-playground';

export async function check() {
  const out = { version: await version() };
  const gpu = await gpuInfo();
  out.gpu = gpu.available ? { available: true, isFallback: gpu.isFallback, maxBufferSize: gpu.limits.maxBufferSize } : gpu;
  out.selfTest = await gpuSelfTest();
  const before = JSON.stringify(resourceCount());
  const text = await generateCorpus('stories', { bytes: 16000 });
  const tokenizer = await trainTokenizer(text, { vocabSize: 320 });
  const sample = 'The children laughed <script>alert(1)</script> 👋';
  out.roundTrip = tokenizer.decode(tokenizer.encode(sample)) === sample;
  out.vocabSize = tokenizer.vocabSize;
  {
    const model = await createModel({ tokenizer, config: { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 32 } });
    const losses = [];
    await model.train({ text, steps: 5, batchSize: 4, onProgress: (p) => losses.push(p.loss) });
    out.model = { backend: model.backend, reason: model.backendReason, steps: losses.length, finite: losses.every(Number.isFinite), generated: (await model.generate('Once', { maxTokens: 10 })).length > 0 };
    model.dispose();
    if (gpu.available) {
      // The same model on WebGPU: the same seed and data give the same losses as on the CPU.
      const config = { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 32 };
      const cpu = await createModel({ tokenizer, config, backend: 'cpu', seed: 5 });
      const onGpu = await createModel({ tokenizer, config, backend: 'webgpu', seed: 5 });
      const cpuLosses = [];
      const gpuLosses = [];
      const options = { text, steps: 5, batchSize: 4, lr: 3e-3, evalInterval: 5 };
      await cpu.train({ ...options, onProgress: (p) => cpuLosses.push(p.loss) });
      const result = await onGpu.train({ ...options, onProgress: (p) => gpuLosses.push(p.loss) });
      const maps = await onGpu.attention('Once upon');
      const saved = await onGpu.save();
      const reloaded = await loadModel(saved);
      const cpuText = await cpu.generate('Once upon', { maxTokens: 12, temperature: 0 });
      out.gpuModel = {
        backend: onGpu.backend,
        stepCount: onGpu.stepCount,
        maxLossDiff: Math.max(...cpuLosses.map((l, i) => Math.abs(l - gpuLosses[i]))),
        evaluated: result.eval !== null && Number.isFinite(result.eval.valLoss),
        generated: (await onGpu.generate('Once upon', { maxTokens: 12, temperature: 0 })).length,
        attentionRows: maps.t,
        reloadedSameAsGpu: (await reloaded.generate('Once upon', { maxTokens: 12, temperature: 0 })) === (await onGpu.generate('Once upon', { maxTokens: 12, temperature: 0 })),
        cpuTextLength: cpuText.length,
      };
      // New data for a model on WebGPU: a new run from its current weights.
      await onGpu.train({ ...options, text: 'Once upon a time there was a cat. '.repeat(100), steps: 2 });
      out.gpuModel.fineTuneSteps = onGpu.stepCount;
      const during = resourceCount().gpu;
      cpu.dispose();
      onGpu.dispose();
      reloaded.dispose();
      out.gpuModel.gpuHandles = [during, resourceCount().gpu];

      // The device is lost mid-run: train() rejects with a DeviceLostError and the model goes on on the CPU from
      // its latest snapshot (every 4 steps here).
      const lossy = await createModel({ tokenizer, config, backend: 'webgpu', seed: 5 });
      const lossyLosses = [];
      let lost = null;
      try {
        await lossy.train({ ...options, steps: 40, evalInterval: 0, snapshotEvery: 4, onProgress: (p) => {
          lossyLosses.push(p.loss);
          if (p.step === 10) lossy.simulateDeviceLoss();
        } });
      } catch (error) {
        lost = { name: error.name, message: error.message, lostAt: error.lostAtStep, restored: error.restoredStep };
      }
      const afterLoss = [];
      await lossy.train({ ...options, steps: 3, evalInterval: 0, onProgress: (p) => afterLoss.push(p.loss) });
      out.deviceLost = { lost, backend: lossy.backend, reason: lossy.backendReason, freshLoss: lossyLosses[0], afterLoss: afterLoss[0], generated: (await lossy.generate('Once', { maxTokens: 5 })).length, gpuHandles: resourceCount().gpu };
      lossy.dispose();
    }
  }
  tokenizer.dispose();
  out.freed = JSON.stringify(resourceCount()) === before;
  return out;
}
`;

const MAIN_JS = `
import 'transformer-playground/widgets';
import { check } from './check.js';

async function inWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return new Promise((done, fail) => {
    worker.onmessage = (event) => { worker.terminate(); done(event.data); };
    worker.onerror = (event) => fail(new Error('worker: ' + event.message));
  });
}

try {
  window.__result = { main: await check(), worker: await inWorker() };
} catch (error) {
  window.__result = { error: String(error && error.stack || error) };
}
`;

const WORKER_JS = `
import { check } from './check.js';
check().then((result) => postMessage(result), (error) => postMessage({ error: String(error) }));
`;

let packed;
let project;
let server;
let browser;

/** The bundle, served once under the strict CSP. */
async function serve() {
  if (!server) server = startServer(join(project.dir, 'dist'));
  return server;
}

before(async () => {
  if (skip) return;
  packed = pack();
  project = installInNewProject(packed.tarball, {
    'index.html': INDEX_HTML,
    'main.js': MAIN_JS,
    'check.js': CHECK_JS,
    'worker.js': WORKER_JS,
  });
  await build({
    root: project.dir,
    configFile: false,
    logLevel: 'warn',
    build: { outDir: 'dist', target: 'es2022', modulePreload: { polyfill: false } },
    worker: { format: 'es' },
  });
});

after(async () => {
  await browser?.close();
  if (server) {
    const { server: http } = await server;
    await new Promise((done) => http.close(done));
  }
  project?.cleanup();
  packed?.cleanup();
});

test('Vite bundles the package with its wasm file', { skip }, () => {
  const files = listFiles(join(project.dir, 'dist'));
  assert.ok(files.some((f) => f.endsWith('.wasm')), `the bundle has the .wasm (${files.join(', ')})`);
  assert.ok(files.includes('index.html'));
});

test('the bundled app runs on WebGPU in headless Chromium, on the main thread and in a Worker, under the strict CSP', { skip }, async () => {
  const { url } = await serve();
  let page;
  let consoleErrors;
  let requests;
  ({ browser, page, consoleErrors, requests } = await launchBrowser({ webgpu: true }));
  await page.goto(url);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 90_000 });
  const result = await page.evaluate(() => window.__result);
  assert.equal(result.error, undefined, result.error);
  for (const where of ['main', 'worker']) {
    const r = result[where];
    console.log(`${where}: gpu ${JSON.stringify(r.gpu)}, matmul on ${r.selfTest.backend} max |diff| ${r.selfTest.maxAbsDiff} in ${r.selfTest.millis.toFixed(0)} ms`);
    assert.equal(r.error, undefined, `${where}: ${r.error}`);
    assert.equal(r.gpu.available, true, `${where}: WebGPU is available`);
    assert.equal(r.selfTest.backend, 'webgpu', `${where}: the kernel ran on WebGPU`);
    assert.ok(r.selfTest.maxAbsDiff < 1e-4, `${where}: the WebGPU matmul matches the CPU (${r.selfTest.maxAbsDiff})`);
    assert.equal(r.roundTrip, true);
    assert.equal(r.vocabSize, 320);
    assert.equal(r.freed, true, `${where}: the resource count is back where it was`);
    if (r.model) {
      assert.deepEqual(r.model, { backend: 'cpu', reason: 'the WebGPU adapter is a software fallback, slower than the CPU path', steps: 5, finite: true, generated: true }, `${where}: 5 training steps; 'auto' keeps SwiftShader for the CPU`);
      console.log(`${where}: model on WebGPU ${JSON.stringify(r.gpuModel)}`);
      assert.equal(r.gpuModel.backend, 'webgpu');
      assert.equal(r.gpuModel.stepCount, 5);
      assert.ok(r.gpuModel.maxLossDiff < 1e-3, `${where}: WebGPU and CPU losses agree (${r.gpuModel.maxLossDiff})`);
      assert.equal(r.gpuModel.evaluated, true);
      assert.ok(r.gpuModel.generated > 0);
      assert.equal(r.gpuModel.attentionRows, 9);
      assert.equal(r.gpuModel.reloadedSameAsGpu, true, 'saved from the GPU, loaded on the CPU: the same model');
      assert.deepEqual(r.gpuModel.gpuHandles, [1, 0], 'the model holds one device, freed with it');
      assert.equal(r.gpuModel.fineTuneSteps, 2, `${where}: a WebGPU model takes new data and trains on from its weights`);
      const d = r.deviceLost;
      console.log(`${where}: device lost ${JSON.stringify(d)}`);
      assert.equal(d.lost?.name, 'DeviceLostError', `${where}: train() rejects with a DeviceLostError`);
      assert.match(d.lost.message, /the WebGPU device was lost after step 10 \(.+\)\. The model now runs on the CPU with the weights of step 8/);
      assert.deepEqual([d.lost.lostAt, d.lost.restored], [10, 8]);
      assert.equal(d.backend, 'cpu');
      assert.match(d.reason, /WebGPU device was lost/);
      assert.ok(d.afterLoss < d.freshLoss - 0.1, `${where}: the CPU goes on from the snapshot (${d.freshLoss} -> ${d.afterLoss})`);
      assert.ok(d.generated > 0);
      assert.equal(d.gpuHandles, 0, 'the lost device was freed');
    }
    else console.error(`\n!!! ${where}: the core has no model API: no training steps in the bundle\n`);
  }
  await page.waitForFunction(() => document.getElementById('view').state === 'ready', null, { timeout: 30_000 });
  const tokens = await page.evaluate(() => document.getElementById('view').tokens.length);
  assert.ok(tokens > 5 && tokens < 34, `the widget from the bundle shows BPE tokens (${tokens})`);
  await screenshot(page, 'vite-app');
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(requests.filter((r) => !r.startsWith(url)), [], 'no requests leave the page origin');
});

test('without WebGPU the same bundle says why and keeps working on the CPU', { skip }, async () => {
  const { url } = await serve();
  const { browser: cpuBrowser, page, consoleErrors } = await launchBrowser({ webgpu: false });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 90_000 });
    const result = await page.evaluate(() => window.__result);
    assert.equal(result.error, undefined, result.error);
    for (const where of ['main', 'worker']) {
      const r = result[where];
      assert.equal(r.gpu.available, false, `${where}: no WebGPU`);
      assert.match(r.gpu.reason, /WebGPU/, `${where}: the reason names WebGPU (${r.gpu.reason})`);
      assert.equal(r.selfTest.backend, 'cpu');
      assert.equal(r.roundTrip, true);
      assert.equal(r.freed, true);
    }
    assert.deepEqual(consoleErrors, []);
  } finally {
    await cpuBrowser.close();
  }
});
