// Principal component analysis to two dimensions, for scatter plots of vectors (position or token embeddings):
// centre the rows, form the covariance, and find its two leading eigenvectors by power iteration with deflation.

export interface Pca2 {
  /** (n, 2): every row projected on the two directions. */
  points: [number, number][];
  /** the two unit directions, (2, d) */
  axes: [number[], number[]];
  /** their eigenvalues (variances along them), largest first */
  variances: [number, number];
  /** the total variance, to say how much of it the picture shows */
  total: number;
}

/** `data` is (n, d), row-major. */
export function pca2(data: ArrayLike<number>, n: number, d: number): Pca2 {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = data[i * d + j] - mean[j];
  // cov (d, d) = Xᵀ X / n
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let a = 0; a < d; a++) {
      const xa = x[row + a];
      if (xa === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += xa * x[row + b];
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= n;
      cov[b * d + a] = cov[a * d + b];
    }
  let total = 0;
  for (let a = 0; a < d; a++) total += cov[a * d + a];
  const axes: number[][] = [];
  const variances: number[] = [];
  for (let k = 0; k < 2; k++) {
    // Start from a fixed, generic vector so the result is deterministic.
    let u = Float64Array.from({ length: d }, (_, j) => 1 + ((j * 7919) % 13) / 13);
    let lambda = 0;
    for (let iter = 0; iter < 500; iter++) {
      const next = new Float64Array(d);
      for (let a = 0; a < d; a++) {
        let sum = 0;
        for (let b = 0; b < d; b++) sum += cov[a * d + b] * u[b];
        next[a] = sum;
      }
      // Remove the directions already found (deflation by projection).
      for (const prev of axes) {
        const dot = next.reduce((s, v, j) => s + v * prev[j], 0);
        for (let j = 0; j < d; j++) next[j] -= dot * prev[j];
      }
      const norm = Math.hypot(...next);
      if (norm < 1e-12) {
        lambda = 0;
        break;
      }
      const change = next.reduce((s, v, j) => s + Math.abs(v / norm - u[j]), 0);
      u = next.map((v) => v / norm);
      lambda = norm;
      if (change < 1e-10) break;
    }
    // A fixed sign (largest component positive), so pictures do not flip between redraws.
    let big = 0;
    for (let j = 1; j < d; j++) if (Math.abs(u[j]) > Math.abs(u[big])) big = j;
    if (u[big] < 0) u = u.map((v) => -v);
    axes.push(Array.from(u));
    variances.push(lambda);
  }
  const points: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    let p = 0;
    let q = 0;
    for (let j = 0; j < d; j++) {
      p += x[i * d + j] * axes[0][j];
      q += x[i * d + j] * axes[1][j];
    }
    points.push([p, q]);
  }
  return { points, axes: [axes[0], axes[1]], variances: [variances[0], variances[1]], total };
}

/** cosine similarity of every pair of rows: (n, n) */
export function cosineSimilarity(data: ArrayLike<number>, n: number, d: number): Float32Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[i * d + j] ** 2;
    norms[i] = Math.sqrt(s) || 1;
  }
  const out = new Float32Array(n * n);
  for (let a = 0; a < n; a++)
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += data[a * d + j] * data[b * d + j];
      out[a * n + b] = out[b * n + a] = s / (norms[a] * norms[b]);
    }
  return out;
}
