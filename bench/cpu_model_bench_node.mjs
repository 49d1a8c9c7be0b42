// Speed of the CPU model compiled to wasm (simd128), under Node: training tokens/s and generation tokens/s
// of the reference config (L=4, NH=4, C=128, T=64, B=16, char vocabulary of the built-in stories), the
// same run as `cargo run -p transformer-playground --release --example cpu_bench` natively.
//
//   RUSTFLAGS="-C target-feature=+simd128" cargo build -p transformer-playground --lib --target wasm32-unknown-unknown --release
//   wasm-bindgen --target web --out-dir /tmp/tp-pkg target/wasm32-unknown-unknown/release/transformer_playground.wasm
//   node bench/cpu_model_bench_node.mjs /tmp/tp-pkg
//
// Or on the package's build: `bash scripts/build.sh --core && node bench/cpu_model_bench_node.mjs pkg`.
// SIMD=0 turns the elementwise simd128 kernels off (GELU, LayerNorm, AdamW, softmax: `debugSimdKernels`), so
// the same module can be measured with and without them, interleaved. The user CPU time per step is printed
// beside the wall-clock rate: on a shared machine it is the steadier number.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir] = process.argv.slice(2);
if (!pkgDir) {
  console.error('usage: node cpu_model_bench_node.mjs <wasm-bindgen out dir>');
  process.exit(1);
}
const mod = await import(pathToFileURL(path.resolve(pkgDir, 'transformer_playground.js')).href);
mod.initSync({ module: fs.readFileSync(path.resolve(pkgDir, 'transformer_playground_bg.wasm')) });
const simd = process.env.SIMD !== '0';
if (!simd) {
  if (!mod.debugSimdKernels) throw new Error('SIMD=0: this module has no debugSimdKernels');
  mod.debugSimdKernels(false);
}

const text = mod.generateCorpus('stories', 1, 300000);
const tok = mod.Tokenizer.trainChar(text);
const ids = tok.encode(text);
const split = Math.floor((ids.length * 9) / 10);
const config = { vocab_size: tok.vocabSize, n_layer: 4, n_head: 4, n_embd: 128, block_size: 64 };
const model = new mod.CpuModel(config, 1);
console.log(`reference config: ${model.paramCount} parameters, V = ${config.vocab_size}, Node ${process.version}`);
model.setTrainingData(ids.slice(0, split), ids.slice(split), { batch_size: 16, steps: 1000 });
model.step(); // warm-up

const steps = 10;
let tokens = 0;
let loss = 0;
let t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < steps; i++) {
  const s = model.step();
  tokens += s.tokens;
  loss = s.loss;
}
let seconds = (performance.now() - t0) / 1000;
const userMs = process.cpuUsage(cpu0).user / 1000 / steps;
console.log(`training${simd ? '' : ' (SIMD=0)'}: ${(tokens / seconds).toFixed(0)} tokens/s (${((1000 * seconds) / steps).toFixed(1)} ms per step, ${userMs.toFixed(1)} ms user CPU per step; loss ${loss.toFixed(3)})`);

const prompt = tok.encode('Once upon a time');
t0 = performance.now();
const out = model.generate(prompt, { max_tokens: 1000, temperature: 1.0, seed: 1 });
seconds = (performance.now() - t0) / 1000;
console.log(`generation (KV cache, B = 1): ${(out.length / seconds).toFixed(0)} tokens/s (${out.length} tokens)`);
if (out.length !== 1000) throw new Error(`expected 1000 tokens, got ${out.length}`);
