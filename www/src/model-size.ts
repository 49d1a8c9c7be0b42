// The model's size from its settings: parameter count, memory estimate, and the checks that refuse a config
// (with the reason). The formulas are the textbook GPT-2 block; the core's own count is shown once it exists.
import type { ModelConfig } from './state';

export const LIMITS = {
  layers: [1, 12],
  heads: [1, 16],
  dModel: [8, 1024],
  context: [2, 1024],
  ffn: [4, 8192],
  dropout: [0, 0.9],
} as const;

export interface SizeReport {
  params: number;
  parts: [string, number][];
  /** Weights, gradients and the two AdamW moments: 16 bytes per parameter. */
  trainingBytes: number;
  /** Saved activations and gradient scratch for one batch. */
  activationBytes: number;
  /** The largest single buffer (attention scores or logits), checked against the device's binding limit. */
  largestBuffer: [string, number];
}

/** Parameters of a GPT-2 style decoder: token (and learned position) embeddings, L blocks, a final layer norm.
 *  The output projection shares the token embedding (weight tying), as in GPT-2. */
export function modelSize(config: ModelConfig, vocab: number, batch: number): SizeReport {
  const { layers: L, dModel: C, context: T, ffn: F, heads: NH } = config;
  const embed = vocab * C;
  const positions = config.positional === 'learned' ? T * C : 0;
  const attention = 3 * C * C + 3 * C + C * C + C; // qkv weight and bias, output projection
  const mlp = C * F + F + F * C + C;
  const norms = 4 * C; // two layer norms (scale and shift) per block
  const block = attention + mlp + norms;
  const params = embed + positions + L * block + 2 * C;
  const parts: [string, number][] = [
    [`token embedding (${vocab} × ${C}), shared with the output`, embed],
    [config.positional === 'learned' ? `learned positions (${T} × ${C})` : `positions (${config.positional}: no parameters)`, positions],
    [`${L} × attention (Q, K, V and output projections)`, L * attention],
    [`${L} × feed-forward (${C} → ${F} → ${C})`, L * mlp],
    [`layer norms`, L * norms + 2 * C],
  ];
  // The same counts as the core's ModelConfig::activation_count and training_bytes (crate/src/model/config.rs).
  const B = batch;
  const bt = B * T;
  const att = B * NH * T * T;
  const rope = config.positional === 'rope' ? 3 * C : 0;
  const drop = config.dropout > 0 ? 3 * bt * C + att + bt * C : 0;
  const perLayer = bt * (C + 2 + 3 * C + rope + C + C + C + C + 2 + F + F + C + C) + 2 * att;
  const activations = bt * C + L * perLayer + drop * L + bt * (C + 2) + 2 * bt * vocab + bt;
  const scratch = bt * (2 * F + 6 * C + vocab) + 2 * B * NH * T * T;
  const activationBytes = 4 * (activations + scratch);
  const attBytes = 4 * att;
  const logits = 4 * bt * vocab;
  return {
    params,
    parts,
    trainingBytes: params * 16,
    activationBytes,
    largestBuffer: attBytes >= logits ? [`attention scores (B×NH×T×T = ${batch}×${NH}×${T}×${T})`, attBytes] : [`logits (B×T×V = ${batch}×${T}×${vocab})`, logits],
  };
}

/** Why a config cannot be built, or null if it can. */
export function checkConfig(config: ModelConfig, maxBinding: number | null, largest: [string, number] | null): string | null {
  for (const [key, [lo, hi]] of Object.entries(LIMITS) as [keyof typeof LIMITS, readonly [number, number]][]) {
    const value = config[key];
    if (!Number.isFinite(value)) return `${key} must be a number.`;
    if (key !== 'dropout' && !Number.isInteger(value)) return `${key} must be a whole number.`;
    if (value < lo || value > hi) return `${key} must be from ${lo} to ${hi} in the playground (it is ${value}).`;
  }
  if (config.dModel % config.heads !== 0) {
    return `d_model (${config.dModel}) must divide evenly among the ${config.heads} heads: each head gets d_model / heads dimensions. Try ${config.heads * Math.max(1, Math.round(config.dModel / config.heads))}.`;
  }
  if (config.ffn % config.dModel !== 0) {
    return `the FFN width (${config.ffn}) must be a multiple of d_model (${config.dModel}); the usual choice is 4 × d_model = ${4 * config.dModel}.`;
  }
  if (config.positional === 'rope' && (config.dModel / config.heads) % 2 !== 0) {
    return `RoPE rotates pairs of dimensions, so the head size d_model / heads (${config.dModel / config.heads}) must be even.`;
  }
  if (maxBinding !== null && largest !== null && largest[1] > maxBinding) {
    return `The ${largest[0]} would need ${(largest[1] / 2 ** 20).toFixed(0)} MiB, more than this GPU's largest buffer (${(maxBinding / 2 ** 20).toFixed(0)} MiB). Use a shorter context, fewer heads or a smaller batch.`;
  }
  return null;
}
