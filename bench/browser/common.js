// Pieces shared by the benchmark pages (bench.html and first-step.html): the token stream, the model config and
// training options both libraries use, and the median.

/** Deterministic token stream over `vocab` symbols with some structure to learn (a counter with noise). */
export function tokenStream(n, vocab) {
  const tokens = new Uint32Array(n);
  let state = 12345;
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    tokens[i] = state % 4 === 0 ? (state >>> 8) % vocab : (i * 7) % vocab;
  }
  return tokens;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function modelConfig(c) {
  return { vocab_size: c.vocab, n_layer: c.L, n_head: c.NH, n_embd: c.C, block_size: c.T, positional: 'learned', activation: 'gelu', dropout: 0, bias: true, ffn_mult: 4 };
}

export function trainOptions(c) {
  // Constant learning rate (no warm-up, no decay) so both libraries take the same steps.
  return { batch_size: c.B, seq_len: c.T, grad_accum: 1, steps: 100000, lr: c.lr, min_lr: c.lr, warmup_steps: 0, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, grad_clip: 1.0, seed: 1337, checkpoint_every: c.checkpointEvery ?? 0 };
}

/** The browser's WebGPU adapter as it describes itself (the one both libraries get by default). */
export async function webgpuAdapter() {
  if (!navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    is_fallback: adapter.isFallbackAdapter ?? info.isFallbackAdapter,
    subgroup_sizes: [info.subgroupMinSize, info.subgroupMaxSize],
    features: [...adapter.features].sort(),
  };
}

export function adapterName(info) {
  if (!info) return 'no WebGPU adapter';
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  return `${name || '(unnamed adapter)'}${info.is_fallback ? ' (fallback adapter)' : ''}`;
}
