// Generation speed of the page against the npm package, on the same model, in headless Chromium on the CPU
// (wasm): the page streams the tokens from its Web Worker (the package's Model.generateBatches, with the KV
// cache, five alternatives per token) and draws them; the package's Model.generate() makes all tokens in one
// call on the main thread of another page, and its generateBatches() streams them there; then both again in a
// dedicated worker of that page (generate-worker.js: a worker's own cost, told apart from the page's). The runs
// interleave (page, package, page, package, ...) so both see the same load. Tokens per second of wall-clock time: the
// page's from pressing Generate to the last token on the page (as the Generate panel shows it), the package's
// around the call. Medians of --runs runs.
//
//   bash scripts/build.sh && node js/build.mjs && [NO_DRAW=1] [TOPP=p] [PROFILE=dir] \
//     node bench/browser/generate-speed.mjs [--tokens N] [--runs N]
// TOPP: top-p for both (default 0.9, the Generate panel's). NO_DRAW=1: the panel does not draw the tokens.
// PROFILE=dir: Chromium traces of the runs (dir/page.json, dir/package.json) with the V8 sampling profiler on every
// thread (the worker's included), for the DevTools Performance panel; the bench then prints the CPU time each
// thread used per 1000 tokens (summed from the traces' thread clocks), which a loaded machine does not inflate.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, openPlayground, setUpTinyModel, openPanel, waitReady } from '../../tests/browser/harness.mjs';

const { values: args } = parseArgs({ options: { tokens: { type: 'string', default: '200' }, runs: { type: 'string', default: '5' } } });
const [tokens, runs] = [Number(args.tokens), Number(args.runs)];
const topP = Number(process.env.TOPP ?? 0.9);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The page's default model (Model panel): L=2, NH=4, C=64, T=64, FFN 256, learned positions.
const MODEL = { '#m-layers': 2, '#m-heads': 4, '#m-dmodel': 64, '#m-context': 64, '#m-ffn': 256 };
const SAMPLING = { temperature: 0.8, topP };

const playground = await openPlayground({ webgpu: false });
let pkg = null;
const pageSpeeds = [];
const packageSpeeds = { generate: [], stream: [], streamModelMs: [] };
const workerSpeeds = { generate: [], stream: [], streamModelMs: [] };
try {
  const { page, browser } = playground;
  await waitReady(page);
  await setUpTinyModel(page);
  await openPanel(page, 'model');
  for (const [id, v] of Object.entries(MODEL)) await page.fill(id, String(v));
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': 20, '#t-warmup': 2, '#t-batch': 4, '#t-eval': 100 })) await page.fill(id, String(v));
  await page.click('#train-start');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 300_000 });
  await openPanel(page, 'generate');
  await page.fill('#g-prompt', 'abcab');
  await page.fill('#g-max', String(tokens));
  await page.fill('#g-temp', String(SAMPLING.temperature));
  await page.fill('#g-topp', String(SAMPLING.topP));
  if (process.env.NO_DRAW) await page.evaluate(() => (document.querySelector('#gen-output').append = () => undefined));
  // The model as the page keeps it (Save & load: the same bytes a download gives).
  const bytes = await page.evaluate(async () => {
    const request = indexedDB.open('transformer-playground', 1);
    const db = await new Promise((resolve) => (request.onsuccess = () => resolve(request.result)));
    const get = db.transaction('session').objectStore('session').get('model-weights');
    const value = await new Promise((resolve) => (get.onsuccess = () => resolve(get.result)));
    return Array.from(value);
  });
  pkg = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo', webgpu: false });
  await pkg.page.evaluate(async (bytes) => {
    const tp = await import('/lib/index.js');
    window.benchModel = await tp.loadModel(Uint8Array.from(bytes), { backend: 'cpu' });
    // The same package calls in a dedicated worker (as the page runs them), to tell a worker's cost from the page's.
    const worker = new Worker('/bench/browser/generate-worker.js', { type: 'module' });
    window.benchWorker = (message) =>
      new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => (data.ok ? resolve(data) : reject(new Error(data.error)));
        worker.onerror = (event) => reject(new Error(event.message));
        worker.postMessage(message);
      });
    await window.benchWorker({ bytes: Uint8Array.from(bytes) });
  }, bytes);

  const categories = ['v8', 'disabled-by-default-v8.cpu_profiler', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'toplevel'];
  if (process.env.PROFILE) {
    mkdirSync(process.env.PROFILE, { recursive: true });
    await browser.startTracing(page, { path: join(process.env.PROFILE, 'page.json'), categories });
    await pkg.browser.startTracing(pkg.page, { path: join(process.env.PROFILE, 'package.json'), categories });
  }
  for (let run = 0; run < runs; run++) {
    // Press Generate and wait for the panel's result without polling the page (Playwright's waitForFunction
    // polls every animation frame, which keeps the page rendering beside the worker the whole run).
    const result = await page.evaluate(
      () =>
        new Promise((resolve) => {
          let value = null;
          Object.defineProperty(window, 'tpGenerated', {
            configurable: true,
            get: () => value,
            set: (v) => {
              value = v;
              const summary = { count: v.tokens.length, tokensPerSec: v.tokensPerSec, firstTokenMs: v.firstTokenMs, modelMs: v.modelMs, totalMs: v.totalMs };
              setTimeout(() => resolve(summary), 0); // after the panel's click handler has finished
            },
          });
          document.querySelector('#generate').click();
        }),
    );
    if (result.count !== tokens) throw new Error(`the page made ${result.count} tokens`);
    pageSpeeds.push({ tokensPerSec: result.tokensPerSec, firstTokenMs: result.firstTokenMs, modelMs: result.modelMs, wallMs: result.totalMs });

    const one = await pkg.page.evaluate(
      async ({ tokens, sampling, seed }) => {
        const model = window.benchModel;
        let start = performance.now();
        const ids = await model.generateIds('abcab', { maxTokens: tokens, ...sampling, seed });
        const generate = (ids.length * 1000) / (performance.now() - start);
        start = performance.now();
        let [n, modelMs] = [0, 0];
        for await (const batch of model.generateBatches('abcab', { maxTokens: tokens, ...sampling, seed })) {
          n += batch.ids.length;
          for (const ms of batch.ms) modelMs += ms;
        }
        return { generate, stream: (n * 1000) / (performance.now() - start), streamModelMs: modelMs };
      },
      { tokens, sampling: SAMPLING, seed: run + 1 },
    );
    for (const key of Object.keys(packageSpeeds)) packageSpeeds[key].push(one[key]);
    const inWorker = await pkg.page.evaluate((message) => window.benchWorker(message), { tokens, sampling: SAMPLING, seed: run + 1 });
    for (const key of Object.keys(workerSpeeds)) workerSpeeds[key].push(inWorker[key]);
  }
  if (process.env.PROFILE) {
    await browser.stopTracing();
    await pkg.browser.stopTracing();
  }
} finally {
  await playground.close();
  await pkg?.close();
}

const pageTps = median(pageSpeeds.map((s) => s.tokensPerSec));
const packageTps = median(packageSpeeds.generate);
const streamTps = median(packageSpeeds.stream);
const list = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`${tokens} tokens, median of ${runs} interleaved runs, CPU (wasm), headless Chromium, temperature ${SAMPLING.temperature}, top-p ${SAMPLING.topP}${process.env.NO_DRAW ? ', tokens not drawn' : ''}:`);
console.log(`  page (worker, streamed, drawn; click to last token): ${pageTps.toFixed(0)} tokens/s (${list(pageSpeeds.map((s) => s.tokensPerSec))}), first token after ${median(pageSpeeds.map((s) => s.firstTokenMs)).toFixed(1)} ms`);
console.log(`  page: the model's own time ${median(pageSpeeds.map((s) => s.modelMs)).toFixed(1)} ms of ${median(pageSpeeds.map((s) => s.wallMs)).toFixed(1)} ms`);
console.log(`  package model.generate() (one call):               ${packageTps.toFixed(0)} tokens/s (${list(packageSpeeds.generate)})`);
console.log(`  package model.generateBatches() (streamed):        ${streamTps.toFixed(0)} tokens/s (${list(packageSpeeds.stream)})`);
console.log(`  package generateBatches: the model's own time ${median(packageSpeeds.streamModelMs).toFixed(1)} ms of ${((tokens * 1000) / streamTps).toFixed(1)} ms`);
console.log(`  package in a worker: generate() ${median(workerSpeeds.generate).toFixed(0)} tokens/s (${list(workerSpeeds.generate)}), generateBatches() ${median(workerSpeeds.stream).toFixed(0)} (${list(workerSpeeds.stream)}), its model time ${median(workerSpeeds.streamModelMs).toFixed(1)} ms`);
// On a loaded machine the medians swing with the other jobs; the best run of each is the closest to an idle
// machine (the run that had the cores to itself).
const best = (xs) => Math.max(...xs);
console.log(`  best runs: page ${best(pageSpeeds.map((s) => s.tokensPerSec)).toFixed(0)}, package generate ${best(packageSpeeds.generate).toFixed(0)}, generateBatches ${best(packageSpeeds.stream).toFixed(0)} tokens/s: page / generate ${(best(pageSpeeds.map((s) => s.tokensPerSec)) / best(packageSpeeds.generate)).toFixed(2)}`);
// Each page run against the package run right after it (the same load), then the median of those ratios.
const ratios = pageSpeeds.map((s, i) => s.tokensPerSec / packageSpeeds.generate[i]);
console.log(`  page / package generate: ${(pageTps / packageTps).toFixed(2)} (medians); run by run ${median(ratios).toFixed(2)} (median of ${ratios.map((r) => r.toFixed(2)).join(', ')})`);

/** CPU milliseconds per thread (name) of a trace: its top-level tasks' thread clock durations, summed. */
function threadCpuMs(file) {
  const events = JSON.parse(readFileSync(file, 'utf8')).traceEvents;
  const names = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
  const cpu = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== 'ThreadControllerImpl::RunTask' || e.tdur === undefined) continue;
    const name = names.get(`${e.pid}:${e.tid}`) ?? 'other';
    cpu.set(name, (cpu.get(name) ?? 0) + e.tdur / 1000);
  }
  return cpu;
}
if (process.env.PROFILE) {
  const per1000 = (ms, count) => ((ms * 1000) / (tokens * count)).toFixed(1);
  const show = (label, cpu, count) =>
    console.log(`  CPU per 1000 tokens, ${label}: ${[...cpu].filter(([, ms]) => ms > 1).sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${per1000(ms, count)} ms`).join(', ')}`);
  show('page', threadCpuMs(join(process.env.PROFILE, 'page.json')), runs);
  // The package page made 2 x runs generations (generate() and generateBatches()) on its main thread, and as many in
  // its worker.
  show('package (generate and generateBatches; main thread and worker)', threadCpuMs(join(process.env.PROFILE, 'package.json')), 2 * runs);
}
