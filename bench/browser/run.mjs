// `npm run bench`: training throughput of our GPT against the same architecture in TensorFlow.js, in one headless
// Chromium (WebGPU on whatever adapter Chromium finds; SwiftShader on a machine without a GPU). Serves the repo
// with the strict CSP (tests/browser/harness.mjs), opens bench/browser/bench.html and runs, one after another:
// ours on WebGPU, ours on the CPU (wasm), TF.js on `webgpu`, TF.js on `wasm`, plus generation tokens/s of ours.
//
//   node bench/browser/run.mjs [--large] [--steps N] [--warmup N] [--gpu-steps N] [--gen N] [--only a,b]
//
// --large adds L=6, NH=6, C=384, T=256, B=8 (for a real GPU: far too slow on a software adapter).
// Prints a markdown table and writes every number as JSON to test-artifacts/bench-browser.json.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ARTIFACTS, chromiumPath, openPage } from '../../tests/browser/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    large: { type: 'boolean', default: false },
    steps: { type: 'string', default: '5' }, // timed steps on the CPU paths
    'gpu-steps': { type: 'string', default: '3' }, // timed steps on WebGPU (slow on a software adapter)
    warmup: { type: 'string', default: '1' },
    gen: { type: 'string', default: '64' }, // generated tokens, CPU
    'gpu-gen': { type: 'string', default: '8' }, // generated tokens, GPU (uncached: a forward pass per token)
    only: { type: 'string', default: 'oursGpu,oursCpu,tfjsWebgpu,tfjsWasm' },
  },
});

if (!chromiumPath()) {
  console.error('Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)');
  process.exit(1);
}
if (!existsSync(join(root, 'pkg', 'transformer_playground.js'))) {
  console.error('pkg/ is not built: run `bash scripts/build.sh` (npm run build) first');
  process.exit(1);
}
if (!existsSync(join(root, 'node_modules', '@tensorflow', 'tfjs', 'package.json'))) {
  console.error('TensorFlow.js is not installed: run `npm install` (it is a dev dependency)');
  process.exit(1);
}

const configs = [{ name: 'reference', L: 4, NH: 4, C: 128, T: 64, B: 16, vocab: 65, lr: 1e-3 }];
if (args.large) configs.push({ name: 'large', L: 6, NH: 6, C: 384, T: 256, B: 8, vocab: 65, lr: 1e-3 });

const only = new Set(args.only.split(','));
const names = { oursGpu: 'ours, WebGPU', oursCpu: 'ours, CPU (wasm)', tfjsWebgpu: 'TF.js webgpu', tfjsWasm: 'TF.js wasm' };
const n = (s) => Number.parseInt(s, 10);

const { page, consoleErrors, close } = await openPage('bench/browser/bench.html', { root: 'repo' });
const results = { date: new Date().toISOString(), configs: [] };
try {
  await page.waitForFunction(() => window.tpBench, null, { timeout: 60_000 });
  results.env = await page.evaluate(() => window.tpBench.ready());
  console.log(`Chromium ${results.env.userAgent.match(/Chrome\/[\d.]+/)?.[0]}, TF.js ${results.env.tfjs}, WebGPU adapter: ${JSON.stringify(results.env.webgpu)}`);
  for (const config of configs) {
    const entry = { config, runs: {} };
    results.configs.push(entry);
    for (const name of Object.keys(names)) {
      if (!only.has(name)) continue;
      const gpu = name === 'oursGpu' || name === 'tfjsWebgpu';
      const options = {
        warmup: n(args.warmup),
        steps: gpu ? n(args['gpu-steps']) : n(args.steps),
        genTokens: name === 'oursGpu' ? n(args['gpu-gen']) : name === 'oursCpu' ? n(args.gen) : 0,
      };
      const started = Date.now();
      process.stdout.write(`${config.name}: ${names[name]} (${options.warmup} warm-up + ${options.steps} timed steps) ... `);
      try {
        const run = await page.evaluate(([fn, c, o]) => window.tpBench[fn](c, o), [name, config, options]);
        entry.runs[name] = run;
        const gen = run.generate ? `, generation ${run.generate.tokens_per_s.toFixed(1)} tokens/s` : '';
        console.log(`${run.tokens_per_s.toFixed(0)} tokens/s (median ${run.median_ms.toFixed(0)} ms/step${gen}; ${((Date.now() - started) / 1000).toFixed(0)} s) on ${run.adapter}`);
      } catch (error) {
        entry.runs[name] = { error: String(error.message ?? error) };
        console.log(`FAILED: ${entry.runs[name].error}`);
      }
    }
  }
} finally {
  results.console_errors = consoleErrors;
  await close();
}

mkdirSync(ARTIFACTS, { recursive: true });
const out = join(ARTIFACTS, 'bench-browser.json');
writeFileSync(out, JSON.stringify(results, null, 2));

// The markdown table for docs/benchmarks.md.
const fmt = (run) => (run && !run.error ? run.tokens_per_s.toFixed(0) : 'n/a');
const ratio = (a, b) => (a && b && !a.error && !b.error ? `${(a.tokens_per_s / b.tokens_per_s).toFixed(2)}x` : 'n/a');
console.log(`\nDate: ${results.date.slice(0, 10)}; WebGPU adapter: ${results.configs[0]?.runs.oursGpu?.adapter ?? results.configs[0]?.runs.tfjsWebgpu?.adapter ?? 'n/a'}\n`);
console.log('| config | ours WebGPU | TF.js webgpu | ours / TF.js (WebGPU) | ours CPU (wasm) | TF.js wasm | ours CPU / TF.js wasm | gen ours CPU (KV cache) | gen ours GPU |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { config: c, runs: r } of results.configs) {
  const gen = (run) => (run?.generate ? run.generate.tokens_per_s.toFixed(1) : 'n/a');
  console.log(`| ${c.name} (L=${c.L}, NH=${c.NH}, C=${c.C}, T=${c.T}, B=${c.B}) | ${fmt(r.oursGpu)} | ${fmt(r.tfjsWebgpu)} | ${ratio(r.oursGpu, r.tfjsWebgpu)} | ${fmt(r.oursCpu)} | ${fmt(r.tfjsWasm)} | ${ratio(r.oursCpu, r.tfjsWasm)} | ${gen(r.oursCpu)} | ${gen(r.oursGpu)} |`);
}
console.log(`\nJSON: ${out}`);
if (consoleErrors.length) console.log(`console errors: ${consoleErrors.join(' | ')}`);
const failed = results.configs.some((e) => Object.values(e.runs).some((r) => r.error));
process.exit(failed ? 1 : 0);
