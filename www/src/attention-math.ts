// One attention computation for one query, every intermediate kept, so the page can show each step:
// scores = q·kⱼ, scaled = scores / √d_k, masked (future positions −∞), weights = softmax, out = Σ weightsⱼ vⱼ.

export interface AttentionStep {
  /** Where the numbers come from (a trained model's layer and head, or the worked example). */
  source: string;
  tokens: string[];
  query: number;
  dk: number;
  /** q (dk), K (T, dk), V (T, dk) */
  q: number[];
  k: number[][];
  v: number[][];
  scores: number[];
  scaled: number[];
  masked: number[];
  weights: number[];
  out: number[];
}

export function attentionStep(source: string, tokens: string[], q: number[], k: number[][], v: number[][], query: number): AttentionStep {
  const dk = q.length;
  const scores = k.map((row) => row.reduce((sum, x, i) => sum + x * q[i], 0));
  const scaled = scores.map((s) => s / Math.sqrt(dk));
  const masked = scaled.map((s, j) => (j > query ? -Infinity : s));
  const max = Math.max(...masked);
  const exps = masked.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
  const total = exps.reduce((a, b) => a + b, 0);
  const weights = exps.map((e) => e / total);
  const out = Array.from({ length: dk }, (_, d) => weights.reduce((sum, w, j) => sum + w * v[j][d], 0));
  return { source, tokens, query, dk, q, k, v, scores, scaled, masked, weights, out };
}

/** Deterministic values in [-1, 1) (xorshift32), for the worked example. */
export function seededValues(count: number, seed: number): number[] {
  const values: number[] = [];
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values.push(Math.round((((state >>> 0) / 2 ** 32) * 2 - 1) * 100) / 100);
  }
  return values;
}
