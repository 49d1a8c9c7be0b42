// The checks that refuse a model's settings in the page (with the reason) before the core sees them: the
// playground's limits, shapes that do not fit together, and a batch buffer beyond the GPU's binding limit.
import type { ModelConfig } from './state';

export const LIMITS = {
  layers: [1, 12],
  heads: [1, 16],
  dModel: [8, 1024],
  context: [2, 1024],
  ffn: [4, 8192],
  dropout: [0, 0.9],
} as const;

/** The largest single buffer of a training batch (the attention scores or the logits, in bytes), checked against
 *  the GPU's binding limit before a run starts. The parameter count and memory come from the core (the worker's
 *  modelSize). */
export function largestBuffer(config: ModelConfig, vocab: number, batch: number): [string, number] {
  const { heads: NH, context: T } = config;
  const attBytes = 4 * batch * NH * T * T;
  const logits = 4 * batch * T * vocab;
  return attBytes >= logits ? [`attention scores (B×NH×T×T = ${batch}×${NH}×${T}×${T})`, attBytes] : [`logits (B×T×V = ${batch}×${T}×${vocab})`, logits];
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
