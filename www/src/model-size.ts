// The checks that refuse a model's settings in the page (with the reason) before the core sees them: the
// playground's limits, shapes that do not fit together, and a batch buffer beyond the GPU's binding limit.
import type { ModelSettings } from './state';

/** The playground's range of each setting (the FFN's is of its width, ffnMult × d_model), with its name. */
export const LIMITS = {
  nLayer: [1, 12, 'layers'],
  nHead: [1, 16, 'heads'],
  nEmbd: [8, 1024, 'd_model'],
  blockSize: [2, 1024, 'the context length'],
  ffnWidth: [4, 8192, 'the FFN width'],
  dropout: [0, 0.9, 'dropout'],
} as const;

/** The largest single buffer of a training batch (the attention scores or the logits, in bytes), checked against
 *  the GPU's binding limit before a run starts. The parameter count and memory come from the core (the worker's
 *  modelSize). */
export function largestBuffer(config: ModelSettings, vocab: number, batch: number): [string, number] {
  const { nHead: NH, blockSize: T } = config;
  const attBytes = 4 * batch * NH * T * T;
  const logits = 4 * batch * T * vocab;
  return attBytes >= logits ? [`attention scores (B×NH×T×T = ${batch}×${NH}×${T}×${T})`, attBytes] : [`logits (B×T×V = ${batch}×${T}×${vocab})`, logits];
}

/** Why a config cannot be built, or null if it can. */
export function checkConfig(config: ModelSettings, maxBinding: number | null, largest: [string, number] | null): string | null {
  const values = { ...config, ffnWidth: Math.round(config.ffnMult * config.nEmbd) };
  for (const [key, [lo, hi, name]] of Object.entries(LIMITS) as [keyof typeof LIMITS, (typeof LIMITS)[keyof typeof LIMITS]][]) {
    const value = values[key];
    if (!Number.isFinite(value)) return `${name} must be a number.`;
    if (key !== 'dropout' && !Number.isInteger(value)) return `${name} must be a whole number.`;
    if (value < lo || value > hi) return `${name} must be from ${lo} to ${hi} in the playground (it is ${value}).`;
  }
  const { nEmbd: C, nHead: NH } = config;
  if (C % NH !== 0) {
    return `d_model (${C}) must divide evenly among the ${NH} heads: each head gets d_model / heads dimensions. Try ${NH * Math.max(1, Math.round(C / NH))}.`;
  }
  if (!Number.isInteger(config.ffnMult)) {
    return `the FFN width (${values.ffnWidth}) must be a multiple of d_model (${C}); the usual choice is 4 × d_model = ${4 * C}.`;
  }
  if (config.positional === 'rope' && (C / NH) % 2 !== 0) {
    return `RoPE rotates pairs of dimensions, so the head size d_model / heads (${C / NH}) must be even.`;
  }
  if (maxBinding !== null && largest !== null && largest[1] > maxBinding) {
    return `The ${largest[0]} would need ${(largest[1] / 2 ** 20).toFixed(0)} MiB, more than this GPU's largest buffer (${(maxBinding / 2 ** 20).toFixed(0)} MiB). Use a shorter context, fewer heads or a smaller batch.`;
  }
  return null;
}
