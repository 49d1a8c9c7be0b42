// The wasm build's fast CPU matmul (simd128 register tile, the weight read transposed in place; a few rows by
// simd128 dot products) against the readable reference, on awkward shapes: edges of the 4 x 8 tile and of the
// 128 x 256 packed block, and the few-row path generation takes. And the simd128 elementwise kernels against the
// scalar code they stand in for, bit for bit over training steps. Needs the wasm package (see cpu_model.test.mjs).
//
//   node --test tests/node/cpu_kernels.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = path.resolve(process.env.PKG ?? 'pkg');
const mod = await import(pathToFileURL(path.join(pkg, 'transformer_playground.js')).href);
mod.initSync({ module: fs.readFileSync(path.join(pkg, 'transformer_playground_bg.wasm')) });

/** Deterministic values in [-1, 1). */
function values(count, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

test('the fast matmul equals the reference on awkward shapes', () => {
  // (N, C, OC): 1 and 7 rows (dot products), 8 and 13 rows (tile edges), C past one 128-deep block, OC past
  // one 256-wide block and not a multiple of 8.
  const shapes = [[1, 5, 3], [7, 129, 37], [8, 1, 1], [13, 129, 17], [65, 300, 270], [33, 128, 512], [9, 257, 263]];
  for (const [n, c, oc] of shapes) {
    const inp = values(n * c, n + 3 * c);
    const weight = values(oc * c, 7 * oc + c);
    for (const bias of [undefined, values(oc, oc)]) {
      const reference = mod.matmulForwardCpu(inp, weight, bias, n, c, oc);
      const fast = mod.matmulForwardFastCpu(inp, weight, bias, n, c, oc);
      assert.equal(fast.length, n * oc);
      for (let i = 0; i < n * oc; i++) {
        // Sums of up to 300 products of values in [-1, 1], reordered: 5e-5 absolute + 1e-5 relative.
        const tolerance = 5e-5 + 1e-5 * Math.abs(reference[i]);
        if (!(Math.abs(fast[i] - reference[i]) <= tolerance)) {
          assert.fail(`(N, C, OC) = (${n}, ${c}, ${oc}), bias ${bias !== undefined}: out[${i}] = ${fast[i]}, reference ${reference[i]}`);
        }
      }
    }
  }
});

test('the simd128 elementwise kernels give the scalar code\'s bits over whole training steps', () => {
  // GELU, LayerNorm forward and backward, AdamW and attention's softmax rows have simd128 versions in the wasm
  // module (ops/simd128.rs) that do the scalar code's arithmetic lane by lane; debugSimdKernels(false) runs the
  // scalar code. Awkward widths: C = 20 and 36 (not multiples of 8), head sizes 10 and 12, T = 11 (rows of 1 to
  // 11 visible scores), with and without biases; the losses and the saved weights must be the same bits.
  const text = mod.generateCorpus('stories', 3, 6000);
  const tok = mod.Tokenizer.trainChar(text);
  const ids = tok.encode(text);
  const configs = [
    { vocab_size: tok.vocabSize, n_layer: 2, n_head: 2, n_embd: 20, block_size: 11 },
    { vocab_size: tok.vocabSize, n_layer: 1, n_head: 3, n_embd: 36, block_size: 11, bias: false },
  ];
  const run = (config, simd) => {
    mod.debugSimdKernels(simd);
    try {
      const m = new mod.CpuModel(config, 5);
      m.setTrainingData(ids.slice(0, 5000), ids.slice(5000), { batch_size: 3, steps: 6, lr: 1e-2 });
      const losses = [];
      for (let i = 0; i < 6; i++) losses.push(m.step().loss);
      return { losses, val: m.evaluate().val_loss, weights: m.saveSafetensors(tok.toJson()) };
    } finally {
      mod.debugSimdKernels(true);
    }
  };
  for (const config of configs) {
    const simd = run(config, true);
    const scalar = run(config, false);
    assert.deepEqual(simd.losses, scalar.losses, `C = ${config.n_embd}: losses`);
    assert.equal(simd.val, scalar.val, `C = ${config.n_embd}: validation loss`);
    assert.ok(Buffer.from(simd.weights).equals(Buffer.from(scalar.weights)), `C = ${config.n_embd}: weights differ`);
  }
});
