// How the next token is picked from the model's scores (logits): temperature, then top-k, then top-p
// (over what top-k left, renormalised), then a draw from what remains.

export interface SamplingSettings {
  temperature: number;
  /** 0 = off */
  topK: number;
  /** 1 = off */
  topP: number;
}

export interface SamplingView {
  /** softmax(logits / temperature), before any filter */
  probs: number[];
  kept: boolean[];
  /** the distribution actually sampled from (0 for filtered tokens) */
  final: number[];
}

export function samplingView(logits: number[], s: SamplingSettings): SamplingView {
  let probs: number[];
  if (s.temperature === 0) {
    const best = logits.indexOf(Math.max(...logits));
    probs = logits.map((_, i) => (i === best ? 1 : 0));
  } else {
    const scaled = logits.map((l) => l / s.temperature);
    const max = Math.max(...scaled);
    const e = scaled.map((x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    probs = e.map((x) => x / sum);
  }
  const order = probs.map((p, i) => [p, i] as [number, number]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const kept = probs.map(() => false);
  const k = s.topK > 0 ? Math.min(s.topK, order.length) : order.length;
  const afterK = order.slice(0, k);
  const massK = afterK.reduce((a, [p]) => a + p, 0);
  let cumulative = 0;
  for (const [p, i] of afterK) {
    kept[i] = true;
    cumulative += p / massK;
    if (cumulative >= s.topP - 1e-12) break;
  }
  const mass = probs.reduce((a, p, i) => a + (kept[i] ? p : 0), 0);
  const final = probs.map((p, i) => (kept[i] ? p / mass : 0));
  return { probs, kept, final };
}
