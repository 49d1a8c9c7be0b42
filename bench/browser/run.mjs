// `npm run bench`: training throughput of our GPT against the same architecture in TensorFlow.js, in one headless
// Chromium (WebGPU on whatever adapter Chromium finds; SwiftShader on a machine without a GPU). Serves the repo
// with the strict CSP (tests/browser/harness.mjs), opens bench/browser/bench.html and runs, one after another:
// ours on WebGPU, ours on the CPU (wasm), TF.js on `webgpu`, TF.js on `wasm`, with generation tokens/s (KV cache)
// of ours, dispatches, submits and buffers made per step (counted on the page's WebGPU calls), and the GPU memory
// of our model. Then, in a fresh browser per sample, the time from page load to the first finished training step
// (bench/browser/first-step.html), the wasm module's size, and our matmul kernels' GFLOP/s with every tiling.
//
//   node bench/browser/run.mjs [--large] [--large-cpu] [--steps N] [--gpu-steps N] [--warmup N] [--gen N]
//                              [--gpu-gen N] [--gen-runs N] [--first-step-runs N] [--matmul-runs N]
//                              [--only oursGpu,oursGpuF16,oursCpu,tfjsWebgpu,tfjsWasm,matmul,checkpoint] [--tiling NAME] [--no-docs]
//
// The large config (L=6, NH=6, C=384, T=256, B=8) runs on WebGPU (ours and TF.js) when the adapter is not a
// software one (SwiftShader would take tens of minutes per step), or when --large is given; --large-cpu adds the
// CPU pair for it (minutes per TF.js wasm step). Every number is a median: of the timed steps (at least 3), of
// --gen-runs generations, of --first-step-runs page loads.
// Writes bench/results/browser-<adapter>.json and replaces the generated block of docs/benchmarks.md (between the
// `npm run bench` markers) with the tables printed here, unless --no-docs.
import { gzipSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromiumPath, openPage } from '../../tests/browser/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    large: { type: 'boolean', default: false },
    'large-cpu': { type: 'boolean', default: false },
    steps: { type: 'string', default: '5' }, // timed steps on the CPU paths
    'gpu-steps': { type: 'string', default: '3' }, // timed steps on WebGPU (slow on a software adapter)
    warmup: { type: 'string', default: '1' },
    gen: { type: 'string', default: '64' }, // generated tokens, CPU
    'gpu-gen': { type: 'string', default: '16' }, // generated tokens, GPU (KV cache; one submit per token)
    'gen-runs': { type: 'string', default: '3' },
    'first-step-runs': { type: 'string', default: '3' },
    only: { type: 'string', default: 'oursGpu,oursGpuF16,oursCpu,tfjsWebgpu,tfjsWasm,matmul,checkpoint' },
    'matmul-runs': { type: 'string', default: '3' },
    'no-docs': { type: 'boolean', default: false },
    tiling: { type: 'string' }, // ours WebGPU with this matmul tiling instead of the adapter's (large, medium, small, direct)
  },
});

if (!chromiumPath()) {
  console.error('Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)');
  process.exit(1);
}
const wasmFile = join(root, 'pkg', 'transformer_playground_bg.wasm');
if (!existsSync(join(root, 'pkg', 'transformer_playground.js')) || !existsSync(wasmFile)) {
  console.error('pkg/ is not built: run `bash scripts/build.sh` (npm run build) first');
  process.exit(1);
}
if (!existsSync(join(root, 'node_modules', '@tensorflow', 'tfjs', 'package.json'))) {
  console.error('TensorFlow.js is not installed: run `npm install` (it is a dev dependency)');
  process.exit(1);
}

const reference = { name: 'reference', L: 4, NH: 4, C: 128, T: 64, B: 16, vocab: 65, lr: 1e-3 };
const large = { name: 'large', L: 6, NH: 6, C: 384, T: 256, B: 8, vocab: 65, lr: 1e-3 };
const only = new Set(args.only.split(','));
const names = { oursGpu: 'ours, WebGPU', oursGpuF16: 'ours, WebGPU f16', oursCpu: 'ours, CPU (wasm)', tfjsWebgpu: 'TF.js webgpu', tfjsWasm: 'TF.js wasm' };
const n = (s) => Number.parseInt(s, 10);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const wasmBytes = readFileSync(wasmFile);
const results = {
  date: new Date().toISOString(),
  wasm: { file: 'pkg/transformer_playground_bg.wasm', raw_bytes: statSync(wasmFile).size, gzip_bytes: gzipSync(wasmBytes, { level: 9 }).length },
  configs: [],
};

const { page, consoleErrors, close } = await openPage('bench/browser/bench.html', { root: 'repo' });
let software = true;
try {
  await page.waitForFunction(() => window.tpBench, null, { timeout: 60_000 });
  results.env = await page.evaluate(() => window.tpBench.ready());
  const adapter = results.env.webgpu;
  software = !adapter || adapter.is_fallback !== false;
  console.log(`Chromium ${results.env.userAgent.match(/Chrome\/[\d.]+/)?.[0]}, TF.js ${results.env.tfjs}, WebGPU adapter: ${JSON.stringify(adapter)}`);
  console.log(`WebGPU 'subgroups' feature: ${adapter?.features?.includes('subgroups') ? 'offered' : 'not offered'} by this adapter (wgpu 30 does not request it on the web either way)`);
  const configs = [reference];
  if (!software || args.large) {
    configs.push(large);
    console.log(`large config: runs (${software ? '--large given' : 'hardware adapter'}), WebGPU pair${args['large-cpu'] ? ' and CPU pair' : ' only (--large-cpu adds the CPU pair)'}`);
  } else {
    console.log('large config: SKIPPED (software WebGPU adapter: minutes per step; pass --large to run it anyway)');
  }
  results.large_config = configs.includes(large) ? 'ran' : 'skipped: software adapter (pass --large)';
  for (const config of configs) {
    const entry = { config, runs: {} };
    results.configs.push(entry);
    for (const name of Object.keys(names)) {
      if (!only.has(name)) continue;
      const gpu = name === 'oursGpu' || name === 'oursGpuF16' || name === 'tfjsWebgpu';
      if (config === large && !gpu && !args['large-cpu']) continue;
      const options = {
        warmup: n(args.warmup),
        steps: Math.max(gpu ? n(args['gpu-steps']) : n(args.steps), 1),
        genTokens: name === 'oursGpu' ? n(args['gpu-gen']) : name === 'oursCpu' ? n(args.gen) : 0,
        genRuns: n(args['gen-runs']),
        tiling: name === 'oursGpu' ? args.tiling : undefined,
      };
      const started = Date.now();
      process.stdout.write(`${config.name}: ${names[name]} (${options.warmup} warm-up + ${options.steps} timed steps) ... `);
      try {
        const run = await page.evaluate(([fn, c, o]) => window.tpBench[fn](c, o), [name, config, options]);
        entry.runs[name] = run;
        if (run.unavailable) {
          console.log(`unavailable: ${run.unavailable}`);
          continue;
        }
        const gen = run.generate ? `, generation ${run.generate.tokens_per_s.toFixed(1)} tokens/s` : '';
        const tilingNote = run.matmul_tiling ? `, matmul tiling ${run.matmul_tiling}` : '';
        const counts = run.counted ? `, ${run.counted.dispatches_per_step} dispatches / ${run.counted.submits_per_step} submits per step` : '';
        console.log(`${run.tokens_per_s.toFixed(0)} tokens/s (median ${run.median_ms.toFixed(0)} ms/step${gen}${counts}${tilingNote}; ${((Date.now() - started) / 1000).toFixed(0)} s) on ${run.adapter}`);
      } catch (error) {
        entry.runs[name] = { error: String(error.message ?? error) };
        console.log(`FAILED: ${entry.runs[name].error}`);
      }
    }
    // Activation checkpointing rows: ours again with checkpointing every block (no generation), and the core's
    // memory report of the config (activation bytes without and with).
    if (only.has('checkpoint') && config === reference) entry.memory = await page.evaluate((c) => window.tpBench.memory(c), config);
    for (const name of only.has('checkpoint') && config === reference ? ['oursGpu', 'oursCpu'] : []) {
      const gpu = name === 'oursGpu';
      const options = { warmup: n(args.warmup), steps: Math.max(gpu ? n(args['gpu-steps']) : n(args.steps), 1), genTokens: 0 };
      process.stdout.write(`${config.name}: ${names[name]}, activation checkpointing every block ... `);
      try {
        const run = await page.evaluate(([fn, c, o]) => window.tpBench[fn](c, o), [name, { ...config, checkpointEvery: 1 }, options]);
        entry.runs[`${name}Checkpoint`] = run;
        console.log(`${run.tokens_per_s.toFixed(0)} tokens/s (median ${run.median_ms.toFixed(0)} ms/step)`);
      } catch (error) {
        entry.runs[`${name}Checkpoint`] = { error: String(error.message ?? error) };
        console.log(`FAILED: ${entry.runs[`${name}Checkpoint`].error}`);
      }
    }
  }
  if (only.has('matmul')) {
    // Our forward matmul kernels in this browser, every row of the tiling table: which tiling suits this adapter.
    const shapes = software ? [[512, 512, 512], [1024, 128, 384], [1024, 128, 512]] : [[512, 512, 512], [1024, 128, 384], [2048, 2048, 2048], [2048, 384, 1536]];
    const kernels = ['readable', 'large', 'medium', 'small', 'direct'];
    process.stdout.write(`matmul GFLOP/s of our kernels, ${shapes.length} shapes x ${kernels.length} kernels ... `);
    const started = Date.now();
    try {
      results.matmul = await page.evaluate((o) => window.tpBench.oursMatmul(o), { shapes, kernels, runs: n(args['matmul-runs']) });
      console.log(`done (${((Date.now() - started) / 1000).toFixed(0)} s), this adapter's tiling: ${results.matmul.choice.tiling.name}`);
    } catch (error) {
      results.matmul = { error: String(error.message ?? error) };
      console.log(`FAILED: ${results.matmul.error}`);
    }
  }
} finally {
  results.console_errors = consoleErrors;
  await close();
}

// Time from page load to the first finished training step: a fresh browser (and server) per sample.
results.first_step = {};
for (const device of ['gpu', 'cpu']) {
  if (!only.has(device === 'gpu' ? 'oursGpu' : 'oursCpu')) continue;
  const samples = [];
  for (let i = 0; i < n(args['first-step-runs']); i++) {
    const query = `?device=${device}&config=${encodeURIComponent(JSON.stringify(reference))}`;
    const fresh = await openPage(`bench/browser/first-step.html${query}`, { root: 'repo' });
    try {
      await fresh.page.waitForFunction(() => window.firstStep, null, { timeout: 600_000 });
      samples.push(await fresh.page.evaluate(() => window.firstStep));
    } catch (error) {
      samples.push({ error: String(error.message ?? error) });
    } finally {
      await fresh.close();
    }
  }
  const ok = samples.filter((s) => !s.error);
  results.first_step[device] = { samples, median_ms: ok.length ? median(ok.map((s) => s.first_step_ms)) : null, adapter: ok[0]?.adapter };
  const shown = ok.map((s) => (s.first_step_ms / 1000).toFixed(1)).join(', ');
  console.log(`page load -> first training step, ours ${device === 'gpu' ? 'WebGPU' : 'CPU'}, reference config: ${shown} s${ok.length < samples.length ? ` (${samples.length - ok.length} failed: ${samples.find((s) => s.error).error})` : ''}`);
}

// JSON, one file per adapter kind.
const adapterSlug = (() => {
  const a = results.env?.webgpu;
  const words = [a?.vendor, a?.architecture].filter(Boolean).join('-') || 'no-webgpu';
  return words.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
})();
const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, `browser-${adapterSlug}.json`);
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

// The tables for docs/benchmarks.md.
const ok = (run) => run && !run.error && !run.unavailable;
const fmt = (run) => (ok(run) ? run.tokens_per_s.toFixed(0) : 'n/a');
const ratio = (a, b) => (ok(a) && ok(b) ? `**${(a.tokens_per_s / b.tokens_per_s).toFixed(2)}x**` : 'n/a');
const gen = (run) => (ok(run) && run.generate ? run.generate.tokens_per_s.toFixed(1) : 'n/a');
const mib = (bytes) => (bytes == null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const num = (x) => (x == null || Number.isNaN(x) ? 'n/a' : Number.isInteger(x) ? `${x}` : x.toFixed(1));
const first = results.configs[0]?.runs ?? {};
const lines = [];
lines.push(`Measured ${results.date.slice(0, 10)} by \`npm run bench\`. WebGPU adapter: **${first.oursGpu?.adapter ?? first.tfjsWebgpu?.adapter ?? 'n/a'}** (both libraries); CPU columns: ${first.oursCpu?.adapter ?? first.tfjsWasm?.adapter ?? 'n/a'}. Large config: ${results.large_config}.`);
lines.push('');
lines.push('| config | ours WebGPU | TF.js webgpu | ours / TF.js (WebGPU) | ours CPU (wasm) | TF.js wasm | ours CPU / TF.js wasm |');
lines.push('|---|---:|---:|---:|---:|---:|---:|');
for (const { config: c, runs: r } of results.configs) {
  lines.push(`| ${c.name} (L=${c.L}, NH=${c.NH}, C=${c.C}, T=${c.T}, B=${c.B}), tokens/s | ${fmt(r.oursGpu)} | ${fmt(r.tfjsWebgpu)} | ${ratio(r.oursGpu, r.tfjsWebgpu)} | ${fmt(r.oursCpu)} | ${fmt(r.tfjsWasm)} | ${ratio(r.oursCpu, r.tfjsWasm)} |`);
  const ms = (run) => (ok(run) ? Math.round(run.median_ms).toLocaleString('en-US') : 'n/a');
  const warm = (run) => (ok(run) ? Math.round(run.warmup_ms).toLocaleString('en-US') : 'n/a');
  lines.push(`| ${c.name}, median ms per step | ${ms(r.oursGpu)} | ${ms(r.tfjsWebgpu)} | | ${ms(r.oursCpu)} | ${ms(r.tfjsWasm)} | |`);
  lines.push(`| ${c.name}, warm-up step (ms, compiles shaders) | ${warm(r.oursGpu)} | ${warm(r.tfjsWebgpu)} | | ${warm(r.oursCpu)} | ${warm(r.tfjsWasm)} | |`);
}
for (const { config: c, runs: r } of results.configs) {
  const f16 = r.oursGpuF16;
  if (!f16) continue;
  const cell = f16.unavailable ? `unavailable: ${f16.unavailable}` : ok(f16) ? `${fmt(f16)} tokens/s, ${mib(f16.train_bytes)} for training (f32: ${fmt(r.oursGpu)} tokens/s, ${ok(r.oursGpu) ? mib(r.oursGpu.train_bytes) : 'n/a'})` : `failed: ${f16.error}`;
  lines.push(`| ${c.name}, ours WebGPU in f16 (mixed precision) | ${cell} | | | | | |`);
}
lines.push('');
lines.push('| per config | ours WebGPU: dispatches per step (model / counted) | submits per step | buffers made per timed step | GPU memory of the model (training / with generation) | TF.js webgpu: dispatches per step | submits per step | generation, ours WebGPU (KV cache), tokens/s | generation, ours CPU (KV cache), tokens/s |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { config: c, runs: r } of results.configs) {
  const g = r.oursGpu;
  const t = r.tfjsWebgpu;
  lines.push(
    `| ${c.name} | ${ok(g) ? `${g.dispatches_per_step} / ${num(g.counted.dispatches_per_step)}` : 'n/a'} | ${ok(g) ? num(g.submits_per_step) : 'n/a'} | ${ok(g) ? num(g.counted.buffers_made_per_step) : 'n/a'} | ${ok(g) ? `${mib(g.train_bytes)} / ${mib(g.model_bytes)}` : 'n/a'} | ${ok(t) ? num(t.dispatches_per_step) : 'n/a'} | ${ok(t) ? num(t.submits_per_step) : 'n/a'} | ${gen(g)} | ${gen(r.oursCpu)} |`,
  );
}
lines.push('');
for (const { config: c, runs: r, memory } of results.configs) {
  if (!r.oursGpuCheckpoint && !r.oursCpuCheckpoint) continue;
  const g = r.oursGpuCheckpoint;
  lines.push(`| ${c.name}, activation checkpointing every block | ours WebGPU | ours CPU (wasm) |`);
  lines.push('|---|---:|---:|');
  lines.push(`| tokens/s, off / on | ${fmt(r.oursGpu)} / ${fmt(g)} | ${fmt(r.oursCpu)} / ${fmt(r.oursCpuCheckpoint)} |`);
  lines.push(`| GPU memory for training, off / on | ${ok(r.oursGpu) ? mib(r.oursGpu.train_bytes) : 'n/a'} / ${ok(g) ? mib(g.train_bytes) : 'n/a'} | |`);
  const f32 = (every) => memory?.footprints.find((f) => f.precision === 'f32' && f.checkpoint_every === every);
  if (f32(0) && f32(1)) lines.push(`| activations (the core's memory report), off / on | ${mib(f32(0).activations)} / ${mib(f32(1).activations)} | same |`);
  lines.push('');
}
const fs = results.first_step;
const fsCell = (d) => (fs[d]?.median_ms != null ? `${(fs[d].median_ms / 1000).toFixed(1)} s (${fs[d].samples.filter((s) => !s.error).map((s) => (s.first_step_ms / 1000).toFixed(1)).join(', ')})` : 'n/a');
if (results.matmul && !results.matmul.error) {
  const m = results.matmul;
  lines.push(`Our forward matmul kernels in this browser, GFLOP/s (median of ${m.runs} interleaved runs; this adapter's tiling: \`${m.choice.tiling.name}\`, subgroups ${m.choice.subgroups ? 'on' : 'off'}):`);
  lines.push('');
  lines.push(`| N x C x OC | ${m.kernels.join(' | ')} |`);
  lines.push(`|---|${m.kernels.map(() => '---:').join('|')}|`);
  for (const row of m.rows) lines.push(`| ${row.shape.join(' x ')} | ${m.kernels.map((k) => row.gflops[k].toFixed(2)).join(' | ')} |`);
  lines.push('');
}
lines.push('| other | value |');
lines.push('|---|---:|');
lines.push(`| page load -> first finished training step, ours WebGPU, reference config (median; each sample a fresh browser) | ${fsCell('gpu')} |`);
lines.push(`| page load -> first finished training step, ours CPU (wasm), reference config | ${fsCell('cpu')} |`);
lines.push(`| wasm module (after wasm-opt), raw / gzip -9 | ${(results.wasm.raw_bytes / 1024).toFixed(0)} KiB / ${(results.wasm.gzip_bytes / 1024).toFixed(0)} KiB |`);
lines.push(`| WebGPU \`subgroups\` feature offered by the adapter | ${results.env?.webgpu?.features?.includes('subgroups') ? 'yes' : 'no'} |`);
const table = lines.join('\n');
console.log(`\n${table}\n\nJSON: ${out}`);

if (!args['no-docs']) {
  const docs = join(root, 'docs', 'benchmarks.md');
  const start = '<!-- npm run bench: start (generated by bench/browser/run.mjs; edits between the markers are replaced) -->';
  const end = '<!-- npm run bench: end -->';
  const text = readFileSync(docs, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) {
    writeFileSync(docs, `${text.slice(0, a + start.length)}\n${table}\n${text.slice(b)}`);
    console.log('docs/benchmarks.md: generated block updated');
  } else {
    console.log('docs/benchmarks.md has no `npm run bench` markers: table not written there');
  }
}
if (consoleErrors.length) console.log(`console errors: ${consoleErrors.join(' | ')}`);
const failed = results.configs.some((e) => Object.values(e.runs).some((r) => r.error)) || Object.values(results.first_step).some((f) => f.median_ms == null) || Boolean(results.matmul?.error);
process.exit(failed ? 1 : 0);
