// Generation speed of the page against the npm package, on the same model, in headless Chromium on the CPU
// (wasm): the page streams token by token from its Web Worker (the package's Model.generateTokens, with the
// KV cache), the package's Model.generate() makes all tokens in one call on the main thread of another page.
// Both print tokens per second of wall-clock time (the page's from the call's start to its last token, as the
// Generate panel shows it), medians of --runs runs.
//
//   bash scripts/build.sh && node js/build.mjs && [NO_DRAW=1] [TOPP=p] node bench/browser/generate-speed.mjs [--tokens N] [--runs N]
// (TOPP: the Generate panel's top-p, 0.9 by default; the package calls use top-p 1.)
import { parseArgs } from 'node:util';
import { openPage, openPlayground, setUpTinyModel, openPanel, waitReady } from '../../tests/browser/harness.mjs';

const { values: args } = parseArgs({ options: { tokens: { type: 'string', default: '200' }, runs: { type: 'string', default: '5' } } });
const [tokens, runs] = [Number(args.tokens), Number(args.runs)];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The page's default model (Model panel): L=2, NH=4, C=64, T=64, FFN 256, learned positions.
const MODEL = { '#m-layers': 2, '#m-heads': 4, '#m-dmodel': 64, '#m-context': 64, '#m-ffn': 256 };

const { page, close } = await openPlayground({ webgpu: false });
let bytes;
const pageSpeeds = [];
try {
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
  await page.fill('#g-temp', '0.8');
  if (process.env.TOPP) await page.fill('#g-topp', process.env.TOPP);
  // NO_DRAW=1: the Generate panel does not draw the tokens (to see what drawing costs beside the worker).
  if (process.env.NO_DRAW) await page.evaluate(() => (document.querySelector('#gen-output').append = () => undefined));
  for (let run = 0; run < runs; run++) {
    await page.evaluate(() => (window.tpGenerated = null));
    await page.click('#generate');
    await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 300_000 });
    const result = await page.evaluate(() => window.tpGenerated);
    if (result.tokens.length !== tokens) throw new Error(`the page made ${result.tokens.length} tokens`);
    pageSpeeds.push({ tokensPerSec: result.tokensPerSec, firstTokenMs: result.firstTokenMs, modelMs: result.totalMs, wallMs: (result.tokens.length * 1000) / result.tokensPerSec });
  }
  // The model as the page keeps it (Save & load: the same bytes a download gives).
  bytes = await page.evaluate(async () => {
    const request = indexedDB.open('transformer-playground', 1);
    const db = await new Promise((resolve) => (request.onsuccess = () => resolve(request.result)));
    const get = db.transaction('session').objectStore('session').get('model-weights');
    const value = await new Promise((resolve) => (get.onsuccess = () => resolve(get.result)));
    return Array.from(value);
  });
} finally {
  await close();
}

const pkg = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo', webgpu: false });
let packageSpeeds;
try {
  packageSpeeds = await pkg.page.evaluate(
    async ({ bytes, tokens, runs }) => {
      const tp = await import('/lib/index.js');
      const model = await tp.loadModel(Uint8Array.from(bytes), { backend: 'cpu' });
      const out = { generate: [], stream: [], streamModelMs: [] };
      for (let run = 0; run < runs; run++) {
        let start = performance.now();
        const ids = await model.generateIds('abcab', { maxTokens: tokens, temperature: 0.8, seed: run + 1 });
        out.generate.push((ids.length * 1000) / (performance.now() - start));
        start = performance.now();
        let [n, modelMs] = [0, 0];
        for await (const token of model.generateTokens('abcab', { maxTokens: tokens, temperature: 0.8, seed: run + 1 })) [n, modelMs] = [n + 1, modelMs + token.ms];
        out.stream.push((n * 1000) / (performance.now() - start));
        out.streamModelMs.push(modelMs);
      }
      model.dispose();
      return out;
    },
    { bytes, tokens, runs },
  );
} finally {
  await pkg.close();
}
const pageTps = median(pageSpeeds.map((s) => s.tokensPerSec));
const packageTps = median(packageSpeeds.generate);
const streamTps = median(packageSpeeds.stream);
console.log(`${tokens} tokens, median of ${runs} runs, CPU (wasm), headless Chromium:`);
console.log(`  page (worker, streamed token by token, KV cache): ${pageTps.toFixed(0)} tokens/s, first token after ${median(pageSpeeds.map((s) => s.firstTokenMs)).toFixed(1)} ms`);
console.log(`  page: the model's own time ${median(pageSpeeds.map((s) => s.modelMs)).toFixed(0)} ms of ${median(pageSpeeds.map((s) => s.wallMs)).toFixed(0)} ms`);
console.log(`  package model.generate() (one call):              ${packageTps.toFixed(0)} tokens/s`);
console.log(`  package model.generateTokens() (streamed):        ${streamTps.toFixed(0)} tokens/s`);
console.log(`  package generateTokens: the model's own time ${median(packageSpeeds.streamModelMs).toFixed(0)} ms of ${((tokens * 1000) / streamTps).toFixed(0)} ms`);
console.log(`  page / package generate: ${(pageTps / packageTps).toFixed(2)}`);
