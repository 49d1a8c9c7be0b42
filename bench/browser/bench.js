// Side-by-side training benchmark in one browser page: our GPT (wasm core) on WebGPU and on the CPU, and the
// same architecture written with TensorFlow.js on its `webgpu` and `wasm` backends. Driven by run.mjs, which
// calls window.tpBench.<name>(options) one benchmark at a time and collects the results.
//
// TensorFlow.js is loaded as its UMD bundles (global `tf`) by bench.html; the page's CSP allows only same-origin
// scripts and wasm compilation, which is all tfjs needs (no COOP/COEP, so its wasm backend runs single-threaded
// with SIMD, as our CPU path does).
import init, { CpuModel, Gpu, GpuModel, memoryReport } from '/pkg/transformer_playground.js';
import { adapterName, median, modelConfig, tokenStream, trainOptions, webgpuAdapter } from './common.js';

const tf = window.tf;

// ---------------------------------------------------------------------------------------------------------------
// WebGPU counters: every submit, compute dispatch and buffer creation of the page, whichever library makes it
// (wgpu's WebGPU backend and TF.js both call these prototype methods). Installed before anything runs; read
// around the timed steps to give submits, dispatches and buffers made per step.

export const gpuCounters = { submits: 0, dispatches: 0, buffers: 0, bufferBytes: 0 };
if (window.GPUQueue && window.GPUComputePassEncoder && window.GPUDevice) {
  const wrap = (proto, name, count) => {
    const original = proto[name];
    proto[name] = function (...args) {
      count(args);
      return original.apply(this, args);
    };
  };
  wrap(GPUQueue.prototype, 'submit', () => gpuCounters.submits++);
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', () => gpuCounters.dispatches++);
  wrap(GPUDevice.prototype, 'createBuffer', ([descriptor]) => {
    // Readback (MAP_READ) buffers are transient by design; count the others.
    if (!(descriptor.usage & GPUBufferUsage.MAP_READ)) {
      gpuCounters.buffers++;
      gpuCounters.bufferBytes += descriptor.size;
    }
  });
}
const snapshot = () => ({ ...gpuCounters });

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

/** Runs `step` warmup + timed times (awaiting each) and reports per-step times and tokens/s of the median. */
async function timeSteps(step, { warmup, steps, tokensPerStep }) {
  const losses = [];
  const t0 = performance.now();
  for (let i = 0; i < warmup; i++) losses.push(await step());
  const firstMs = performance.now() - t0;
  const times = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    losses.push(await step());
    times.push(performance.now() - start);
  }
  const medianMs = median(times);
  return { warmup, steps, step_ms: times, median_ms: medianMs, warmup_ms: firstMs, tokens_per_s: (tokensPerStep * 1000) / medianMs, losses };
}

/** timeSteps plus what the WebGPU counters saw per timed step (submits, dispatches, buffers made). */
async function timeGpuSteps(step, options) {
  const result = await timeSteps(step, { ...options, steps: 0 }); // the warm-up steps only
  const before = snapshot();
  const timed = await timeSteps(step, { ...options, warmup: 0 });
  const after = snapshot();
  const per = (key) => (after[key] - before[key]) / options.steps;
  return {
    ...timed,
    warmup: result.warmup,
    warmup_ms: result.warmup_ms,
    losses: [...result.losses, ...timed.losses],
    counted: { submits_per_step: per('submits'), dispatches_per_step: per('dispatches'), buffers_made_per_step: per('buffers'), buffer_bytes_made_per_step: per('bufferBytes') },
  };
}

/** Median tokens/s of `runs` generations (after one that builds the plans). */
async function timeGeneration(generate, runs) {
  await generate();
  const rates = [];
  let tokens = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const out = await generate();
    rates.push((out.length * 1000) / (performance.now() - start));
    tokens = out.length;
  }
  return { tokens, runs, tokens_per_s_runs: rates, tokens_per_s: median(rates), kv_cache: true };
}

let wasmReady;
function ready() {
  wasmReady ??= init();
  return wasmReady;
}

function cpuName() {
  return `CPU, ${navigator.hardwareConcurrency} logical cores (${navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Ours

async function oursGpu(c, { warmup, steps, genTokens, genRuns = 3, tiling, precision = 'f32' }) {
  await ready();
  // `tiling` (run.mjs --tiling) replaces the adapter's row of the matmul tiling table, to compare rows.
  const gpu = tiling ? await Gpu.openWithTiling(tiling) : await Gpu.open();
  const summary = gpu.summary();
  if (precision === 'f16' && !summary.features.includes('shader-f16')) {
    gpu.free();
    return { unavailable: `no shader-f16 (the adapter's features: ${summary.features.join(', ') || 'none'})` };
  }
  const bytesBefore = gpu.bufferBytes();
  const model = new GpuModel(gpu, modelConfig(c), 1);
  const data = tokenStream(200_000, c.vocab);
  model.setTrainingData(data, data.subarray(0, 10_000), { ...trainOptions(c), precision });
  const result = await timeGpuSteps(async () => (await model.step()).loss, { warmup, steps, tokensPerStep: c.B * c.T });
  result.dispatches_per_step = model.dispatchesPerStep();
  result.submits_per_step = result.counted.submits_per_step;
  result.train_bytes = gpu.bufferBytes() - bytesBefore;
  // wgpu on the web does not see the adapter's name; the browser's adapter info does.
  result.adapter = `${adapterName(await webgpuAdapter())} via wgpu ${summary.backend}`;
  result.summary = summary;
  result.matmul_tiling = gpu.matmulChoice().tiling.name;
  if (genTokens > 0) {
    const prompt = data.subarray(0, 8);
    result.generate = await timeGeneration(() => model.generate(prompt, { max_tokens: genTokens, temperature: 0 }), genRuns);
  }
  // Weights, gradients, AdamW state, activations, plans' uniforms, and the generation buffers (KV caches).
  result.model_bytes = gpu.bufferBytes() - bytesBefore;
  model.free();
  return result;
}

async function oursCpu(c, { warmup, steps, genTokens, genRuns = 3 }) {
  await ready();
  const model = new CpuModel(modelConfig(c), 1);
  const data = tokenStream(200_000, c.vocab);
  model.setTrainingData(data, data.subarray(0, 10_000), trainOptions(c));
  const result = await timeSteps(async () => model.step().loss, { warmup, steps, tokensPerStep: c.B * c.T });
  result.adapter = cpuName();
  result.params = model.paramCount;
  if (genTokens > 0) {
    const prompt = data.subarray(0, 8);
    result.generate = await timeGeneration(async () => model.generate(prompt, { max_tokens: genTokens, temperature: 0 }), genRuns);
  }
  model.free();
  return result;
}

/**
 * Matmul GFLOP/s of our forward kernels in this browser: each of `kernels` ("readable", a tiling-table row,
 * "subgroup", "model") at each (N, C, OC) of `shapes`, after a warm-up call that compiles the pipeline and sizes a
 * run (about 0.3 s of dispatches in one submit); the timed runs of the kernels interleaved; medians of `runs`.
 */
async function oursMatmul({ shapes, kernels, runs }) {
  await ready();
  const gpu = await Gpu.open();
  const choice = gpu.matmulChoice();
  const rows = [];
  for (const [n, c, oc] of shapes) {
    const repeats = {};
    for (const kernel of kernels) {
      const start = performance.now();
      await gpu.matmulRepeat(kernel, n, c, oc, 1);
      repeats[kernel] = Math.max(1, Math.min(50, Math.round(300 / (performance.now() - start))));
    }
    const times = Object.fromEntries(kernels.map((kernel) => [kernel, []]));
    for (let r = 0; r < runs; r++) {
      for (const kernel of kernels) {
        const start = performance.now();
        await gpu.matmulRepeat(kernel, n, c, oc, repeats[kernel]);
        times[kernel].push((performance.now() - start) / repeats[kernel]);
      }
    }
    const gflops = Object.fromEntries(kernels.map((kernel) => [kernel, (2 * n * c * oc) / (median(times[kernel]) * 1e6)]));
    rows.push({ shape: [n, c, oc], gflops, repeats });
  }
  gpu.free();
  return { adapter: adapterName(await webgpuAdapter()), choice, runs, kernels, rows };
}

// ---------------------------------------------------------------------------------------------------------------
// The same GPT in TensorFlow.js: pre-norm blocks, learned positions, causal multi-head attention, GELU (tanh
// form) MLP, final LayerNorm, head tied to the token embedding, softmax cross-entropy, Adam.

function tfGpt(c, { oneHotEmbedding }) {
  const { L, NH, C, T, vocab: V } = c;
  const HS = C / NH;
  const normal = (shape) => tf.variable(tf.randomNormal(shape, 0, 0.02));
  const zeros = (shape) => tf.variable(tf.zeros(shape));
  const ones = (shape) => tf.variable(tf.ones(shape));
  const p = { wte: normal([V, C]), wpe: normal([T, C]), lnfG: ones([C]), lnfB: zeros([C]), layers: [] };
  for (let l = 0; l < L; l++) {
    p.layers.push({
      ln1G: ones([C]), ln1B: zeros([C]),
      wqkv: normal([C, 3 * C]), bqkv: zeros([3 * C]),
      wproj: normal([C, C]), bproj: zeros([C]),
      ln2G: ones([C]), ln2B: zeros([C]),
      wfc: normal([C, 4 * C]), bfc: zeros([4 * C]),
      wfcproj: normal([4 * C, C]), bfcproj: zeros([C]),
    });
  }
  // (T, T): 0 on and below the diagonal, -1e9 above it.
  const mask = tf.tidy(() => tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)).mul(-1e9));
  const scale = 1 / Math.sqrt(HS);

  const layerNorm = (x, g, b) => {
    const mean = x.mean(-1, true);
    const xc = x.sub(mean);
    const rstd = tf.rsqrt(xc.square().mean(-1, true).add(1e-5));
    return xc.mul(rstd).mul(g).add(b);
  };
  const gelu = (x) => x.mul(0.5).mul(tf.tanh(x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
  const heads = (x, B) => x.reshape([B, T, NH, HS]).transpose([0, 2, 1, 3]); // (B, NH, T, HS)

  /** Mean cross-entropy of targets (B*T) given idx (B*T), both int32 tensors. */
  function loss(idx, targets, B) {
    const N = B * T;
    // (N, C): the token embeddings. tf.gather's gradient has no wasm kernel, so there it is a one-hot matmul.
    const tok = oneHotEmbedding ? tf.oneHot(idx, V).cast('float32').matMul(p.wte) : tf.gather(p.wte, idx);
    let x = tok.reshape([B, T, C]).add(p.wpe).reshape([N, C]); // (N, C)
    for (const w of p.layers) {
      const h = layerNorm(x, w.ln1G, w.ln1B);
      const qkv = h.matMul(w.wqkv).add(w.bqkv); // (N, 3C)
      const [q, k, v] = tf.split(qkv, 3, 1).map((t) => heads(t, B));
      const att = tf.softmax(tf.matMul(q, k, false, true).mul(scale).add(mask)); // (B, NH, T, T)
      const y = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([N, C]);
      x = x.add(y.matMul(w.wproj).add(w.bproj));
      const m = gelu(layerNorm(x, w.ln2G, w.ln2B).matMul(w.wfc).add(w.bfc)); // (N, 4C)
      x = x.add(m.matMul(w.wfcproj).add(w.bfcproj));
    }
    const logits = layerNorm(x, p.lnfG, p.lnfB).matMul(p.wte, false, true); // (N, V), tied head
    const onehot = tf.oneHot(targets, V).cast('float32'); // cast: on wasm, oneHot(..., 'float32') gives int bits
    return tf.logSoftmax(logits).mul(onehot).sum().neg().div(N);
  }
  const count = () => tf.util.sizeFromShape(p.wte.shape) + tf.util.sizeFromShape(p.wpe.shape) + 2 * C + p.layers.reduce((s, w) => s + Object.values(w).reduce((a, v) => a + v.size, 0), 0);
  const dispose = () => {
    mask.dispose();
    for (const v of [p.wte, p.wpe, p.lnfG, p.lnfB, ...p.layers.flatMap((w) => Object.values(w))]) v.dispose();
  };
  return { loss, count, dispose };
}

async function tfjs(backend, c, { warmup, steps }) {
  if (backend === 'wasm') tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  const ok = await tf.setBackend(backend);
  await tf.ready();
  const got = tf.getBackend();
  if (!ok || got !== backend) throw new Error(`TensorFlow.js backend ${backend} did not start (running on ${got})`);
  const model = tfGpt(c, { oneHotEmbedding: backend === 'wasm' });
  const optimizer = tf.train.adam(c.lr, 0.9, 0.99, 1e-8);
  const data = tokenStream(200_000, c.vocab);
  let state = 99;
  const batch = () => {
    const idx = new Int32Array(c.B * c.T);
    const tgt = new Int32Array(c.B * c.T);
    for (let b = 0; b < c.B; b++) {
      state = (state * 1103515245 + 12345) >>> 0;
      const start = state % (data.length - c.T - 1);
      for (let t = 0; t < c.T; t++) {
        idx[b * c.T + t] = data[start + t];
        tgt[b * c.T + t] = data[start + t + 1];
      }
    }
    return [tf.tensor1d(idx, 'int32'), tf.tensor1d(tgt, 'int32')];
  };
  const step = async () => {
    const [idx, tgt] = batch();
    const loss = optimizer.minimize(() => model.loss(idx, tgt, c.B), true);
    const value = (await loss.data())[0]; // wait for the GPU, as our step awaits its readback
    tf.dispose([idx, tgt, loss]);
    return value;
  };
  const result = backend === 'webgpu' ? await timeGpuSteps(step, { warmup, steps, tokensPerStep: c.B * c.T }) : await timeSteps(step, { warmup, steps, tokensPerStep: c.B * c.T });
  result.params = model.count();
  result.backend = got;
  if (backend === 'webgpu') {
    result.adapter = adapterName(await webgpuAdapter());
    result.dispatches_per_step = result.counted.dispatches_per_step;
    result.submits_per_step = result.counted.submits_per_step;
  } else {
    result.adapter = cpuName();
    // Kernels TF.js runs per training step (one extra step, profiled; the count is the same on webgpu but for
    // the embedding, and profiling there would cost another slow step).
    result.kernels_per_step = (await tf.profile(step)).kernels.length;
    result.simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    result.threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  }
  result.memory = tf.memory().numTensors;
  optimizer.dispose();
  model.dispose();
  return result;
}

window.tpBench = {
  ready: async () => {
    await ready();
    return { webgpu: await webgpuAdapter(), tfjs: tf.version.tfjs, userAgent: navigator.userAgent, isolated: self.crossOriginIsolated };
  },
  oursGpu,
  // Mixed precision (f16 activations and weight copy, f32 master weights), where the adapter has shader-f16.
  oursGpuF16: (c, o) => oursGpu(c, { ...o, precision: 'f16' }),
  oursCpu,
  // The core's memory report of a config's training (f32/f16, without/with checkpointing every block).
  memory: async (c) => {
    await ready();
    return memoryReport(modelConfig(c), c.B, c.T, 1, 1, true, 0, 0);
  },
  oursMatmul,
  tfjsWebgpu: (c, o) => tfjs('webgpu', c, o),
  tfjsWasm: (c, o) => tfjs('wasm', c, o),
};
document.getElementById('status').textContent = 'ready';
