// Time from page load to the first finished training step, for run.mjs: loads only our wasm module, opens the
// device (`?device=gpu`, WebGPU) or not (`?device=cpu`), builds the model of `?config=<json>` and runs one
// optimizer step, then publishes `window.firstStep` with the milestones in ms since navigation start
// (performance.now()). run.mjs opens this page in a fresh browser for every sample, so nothing is cached.
import init, { CpuModel, Gpu, GpuModel } from '/pkg/transformer_playground.js';
import { adapterName, modelConfig, tokenStream, trainOptions, webgpuAdapter } from './common.js';

async function run() {
  const params = new URLSearchParams(location.search);
  const device = params.get('device') ?? 'gpu';
  const c = JSON.parse(params.get('config'));
  const marks = {};
  await init();
  marks.wasm_ready_ms = performance.now();
  const data = tokenStream(200_000, c.vocab);
  let adapter;
  let loss;
  if (device === 'gpu') {
    const gpu = await Gpu.open();
    const model = new GpuModel(gpu, modelConfig(c), 1);
    model.setTrainingData(data, data.subarray(0, 10_000), trainOptions(c));
    marks.model_ready_ms = performance.now();
    loss = (await model.step()).loss; // compiles every pipeline, builds the plans, one submit, reads the loss
    adapter = adapterName(await webgpuAdapter());
  } else {
    const model = new CpuModel(modelConfig(c), 1);
    model.setTrainingData(data, data.subarray(0, 10_000), trainOptions(c));
    marks.model_ready_ms = performance.now();
    loss = model.step().loss;
    adapter = `CPU (wasm, one thread)`;
  }
  marks.first_step_ms = performance.now();
  return { device, adapter, loss, ...marks };
}

run().then(
  (result) => {
    window.firstStep = result;
    document.getElementById('status').textContent = 'done';
  },
  (error) => {
    window.firstStep = { error: String(error?.message ?? error) };
  },
);
