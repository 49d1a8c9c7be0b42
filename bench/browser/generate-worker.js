// The package in a dedicated worker, for bench/browser/generate-speed.mjs: the same calls as on the package page's
// main thread (generateIds, then generateBatches), so the bench can tell the cost of running in a worker from the
// cost of the page around it. Messages: {bytes} loads the model; {tokens, sampling, seed} times one run of each.
import { loadModel } from '/lib/index.js';

let model = null;
self.onmessage = async ({ data }) => {
  try {
    if (data.bytes) {
      model = await loadModel(data.bytes, { backend: 'cpu' });
      self.postMessage({ ok: true });
      return;
    }
    const { tokens, sampling, seed } = data;
    let start = performance.now();
    const ids = await model.generateIds('abcab', { maxTokens: tokens, ...sampling, seed });
    const generate = (ids.length * 1000) / (performance.now() - start);
    start = performance.now();
    let [n, modelMs] = [0, 0];
    for await (const batch of model.generateBatches('abcab', { maxTokens: tokens, ...sampling, seed, batchMs: data.batchMs })) {
      n += batch.ids.length;
      for (const ms of batch.ms) modelMs += ms;
    }
    self.postMessage({ ok: true, generate, stream: (n * 1000) / (performance.now() - start), streamModelMs: modelMs });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};
