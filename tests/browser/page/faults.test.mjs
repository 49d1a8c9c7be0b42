// Issue 9's faults, in the page: the WebGPU device lost mid-run (`device.destroy()` through the core), the
// worker dying mid-run, a panic in the core, and a reload mid-run. Each time the page says what happened, the
// model comes back from its latest snapshot (taken every few steps, kept off the GPU and in IndexedDB), and
// training continues from there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greedy, openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';


const SNAPSHOT_EVERY = 5;

/** Starts a run of `steps` with a snapshot every SNAPSHOT_EVERY steps and returns without waiting for it. */
async function startRun(page, steps, { keep = false } = {}) {
  await openPanel(page, 'training');
  const settings = { '#t-steps': steps, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 3, '#t-batch': 4, '#t-accum': 1, '#t-eval': 1000, '#t-snapshot': SNAPSHOT_EVERY, '#t-seed': 1 };
  for (const [id, v] of Object.entries(settings)) await page.fill(id, String(v));
  if (keep) await page.check('#t-keep');
  const runs = await page.evaluate(() => window.tpTraining?.runs ?? 0);
  await page.click('#train-start');
  await page.waitForFunction((runs) => window.tpTraining?.runs > runs || document.querySelector('#train-status')?.dataset.kind === 'error', runs);
  if ((await page.evaluate(() => window.tpTraining.runs)) === runs) throw new Error(`the run did not start: ${await page.textContent('#train-status')}`);
}

const lastStep = (page, phase = 0) => page.evaluate((i) => window.tpTraining.phases[i]?.steps.at(-1)?.step ?? 0, phase);
const waitSteps = (page, n, phase = 0) =>
  page.waitForFunction(([n, i]) => (window.tpTraining.phases[i]?.steps.at(-1)?.step ?? 0) >= n, [n, phase], { timeout: 120_000 });
const waitStopped = (page) =>
  page.waitForFunction(() => window.tpTraining.state !== 'running', null, { timeout: 120_000 });

test('the GPU device is lost mid-run: training stops, the latest snapshot comes back, and it continues on a new device and on the CPU', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tp.store.backend === 'webgpu');
    await setUpTinyModel(page);
    await startRun(page, 500);
    await waitSteps(page, 2 * SNAPSHOT_EVERY + 2);
    await page.evaluate(() => window.tp.simulateFault('device'));
    await waitStopped(page);
    const status = await page.textContent('#train-notice');
    console.log(status);
    const match = status.match(/The GPU device was lost at step (\d+) \((.+)\)\. The model was restored from its snapshot of step (\d+)/);
    assert.ok(match, `the page says what happened: ${status}`);
    const [lostAt, restored] = [Number(match[1]), Number(match[3])];
    assert.equal(restored % SNAPSHOT_EVERY, 0, 'a snapshot step');
    assert.ok(restored >= 2 * SNAPSHOT_EVERY, `restored from a recent snapshot: ${restored}`);
    assert.ok(lostAt - restored <= SNAPSHOT_EVERY, `at most ${SNAPSHOT_EVERY} steps lost: ${lostAt} -> ${restored}`);
    const training = await page.evaluate(() => window.tpTraining);
    assert.equal(training.state, 'done');
    assert.equal(await lastStep(page), restored, 'the chart goes back to the snapshot');
    const info = await page.evaluate(() => window.tp.store.modelInfo);
    assert.equal(info.backend, 'cpu', 'the restored model is on the CPU');
    assert.equal(info.inspectable, true);
    assert.equal(await page.isChecked('#t-keep'), true, 'continuing keeps the weights');
    await screenshot(page, 'fault-device-lost');
    const lossAtSnapshot = training.phases[0].steps.at(-1).loss;

    // It generates from the restored weights.
    const text = await greedy(page, 'abcab');
    assert.ok(text.length > 0);

    // Continue on WebGPU: a new device is opened; the loss continues from the snapshot's, not from scratch.
    await startRun(page, 6, { keep: true });
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    let after = await page.evaluate(() => window.tpTraining);
    assert.match(await page.textContent('#train-status'), /Done: 6 steps on WebGPU/);
    assert.equal(after.phases.length, 2);
    assert.equal(after.phases[1].offset, restored);
    const firstLoss = after.phases[1].steps[0].loss;
    console.log(`loss at the snapshot ${lossAtSnapshot.toFixed(3)}, first loss on the new device ${firstLoss.toFixed(3)}`);
    const freshLoss = training.phases[0].steps[0].loss;
    assert.ok(Math.abs(firstLoss - lossAtSnapshot) < 0.25 && firstLoss < freshLoss - 0.2, `the new device starts from the snapshot (fresh weights: ${freshLoss})`);

    // And on the CPU.
    await page.selectOption('#backend-select', 'cpu');
    await page.waitForFunction(() => window.tp.store.backend === 'cpu');
    await startRun(page, 4, { keep: true });
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    after = await page.evaluate(() => window.tpTraining);
    assert.match(await page.textContent('#train-status'), /Done: 4 steps on the CPU/);
    assert.equal(after.phases.length, 3);
    assert.ok(after.phases[2].steps[0].loss < freshLoss - 0.2, 'the CPU continues from the trained weights');
    // The browser reports the destroyed device; nothing else may go wrong.
    const unexpected = consoleErrors.filter((e) => !/lost|destroy/i.test(e));
    assert.deepEqual(unexpected, []);
  } finally {
    await close();
  }
});

test('the worker dies mid-run, then the core panics: the page says so, restarts the worker and brings the model back', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await startRun(page, 30000);
    await waitSteps(page, 3 * SNAPSHOT_EVERY + 2);
    await page.evaluate(() => window.tp.simulateFault('crash'));
    await waitStopped(page);
    await page.waitForSelector('#crash-notice');
    assert.match(await page.textContent('#crash-notice'), /worker stopped .*a drill: the worker crashed on purpose.*restarted/);
    assert.match(await page.textContent('#train-status'), /Training stopped: the core's worker stopped/);
    const restored = await lastStep(page);
    assert.equal(restored % SNAPSHOT_EVERY, 0, `the chart goes back to a snapshot (${restored})`);
    assert.ok(restored >= 3 * SNAPSHOT_EVERY, `a recent one: ${restored}`);
    await page.waitForFunction(() => window.tp.store.modelInfo !== null);
    await screenshot(page, 'fault-worker-died');
    const freshLoss = await page.evaluate(() => window.tpTraining.phases[0].steps[0].loss);
    const before = await greedy(page, 'abcab');

    // A panic in the core: a readable report in the console and in the page, a fresh worker, the model back.
    await page.click('#crash-dismiss');
    const error = await page.evaluate(() => window.tp.simulateFault('panic').then(() => 'no error', (e) => e.message));
    assert.match(error, /internal error \(panicked at .*a drill: the core panicked on purpose\); this is a bug/);
    await page.waitForSelector('#crash-notice');
    assert.ok(consoleErrors.some((e) => /panicked at .*wasm.*a drill: the core panicked on purpose/s.test(e)), 'the panic hook printed file and message');
    await page.waitForFunction(() => window.tp.store.modelInfo !== null);
    assert.deepEqual(await greedy(page, 'abcab'), before, 'the same weights came back');

    // Training continues from the restored weights.
    await startRun(page, 5, { keep: true });
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    const training = await page.evaluate(() => window.tpTraining);
    assert.equal(training.phases.at(-1).offset, restored);
    assert.ok(training.phases.at(-1).steps[0].loss < freshLoss - 0.2, `from trained weights (fresh: ${freshLoss})`);
    const unexpected = consoleErrors.filter((e) => !/a drill/.test(e));
    assert.deepEqual(unexpected, []);
  } finally {
    await close();
  }
});

test('a reload mid-run brings the model back from the latest snapshot in the browser', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await startRun(page, 30000);
    await waitSteps(page, 4 * SNAPSHOT_EVERY + 2);
    // The snapshot's write to IndexedDB ends a moment after the step shows on the chart.
    await page.waitForFunction(
      (n) =>
        new Promise((resolve) => {
          const open = indexedDB.open('transformer-playground', 1);
          open.onsuccess = () => {
            const get = open.result.transaction('session').objectStore('session').get('training-run');
            get.onsuccess = () => resolve((get.result?.step ?? 0) >= n);
          };
        }),
      4 * SNAPSHOT_EVERY,
    );
    await page.reload();
    await waitReady(page);
    await page.waitForFunction(() => window.tp.store.modelInfo !== null, null, { timeout: 30_000 });
    await openPanel(page, 'training');
    const status = await page.textContent('#train-notice');
    console.log(status);
    const match = status.match(/reloaded during training\. The model came back from its snapshot of step (\d+)/);
    assert.ok(match, status);
    const step = Number(match[1]);
    assert.ok(step >= 4 * SNAPSHOT_EVERY && step % SNAPSHOT_EVERY === 0, `a recent snapshot: ${step}`);
    assert.equal(await lastStep(page), step, 'the chart is back up to the snapshot');
    assert.equal(await page.isChecked('#t-keep'), true);
    await screenshot(page, 'fault-reload');
    await startRun(page, 5, { keep: true });
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    const training = await page.evaluate(() => window.tpTraining);
    assert.equal(training.phases.at(-1).offset, step, `the run continued from the snapshot: ${await page.textContent('#train-status')}`);
    const freshLoss = training.phases[0].steps[0].loss;
    assert.ok(training.phases.at(-1).steps[0].loss < freshLoss - 0.2, `continues from trained weights (fresh: ${freshLoss})`);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('a batch beyond the GPU binding limit is refused before training, saying what to shrink', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tp.store.backend === 'webgpu');
    await setUpTinyModel(page);
    // 16 heads over a 1024-token context: the attention scores of a batch of 512 are 32 GiB.
    await openPanel(page, 'model');
    for (const [id, v] of Object.entries({ '#m-heads': 16, '#m-dmodel': 64, '#m-context': 1024, '#m-ffn': 256 })) await page.fill(id, String(v));
    assert.equal(await page.textContent('#model-status'), '', 'the model itself fits');
    await openPanel(page, 'training');
    for (const [id, v] of Object.entries({ '#t-steps': 3, '#t-warmup': 1, '#t-batch': 512, '#t-eval': 100 })) await page.fill(id, String(v));
    // Start is disabled with the reason beside it (not enabled and then refusing).
    assert.equal(await page.$eval('#train-start', (b) => b.disabled), true);
    const limit = await page.evaluate(() => window.tpAdapter.limits.maxStorageBufferBindingSize / 2 ** 20);
    const status = await page.textContent('#train-status');
    assert.equal(
      status,
      `Cannot train: the model settings: The attention scores (B×NH×T×T = 512×16×1024×1024) would need 32768 MiB, more than this GPU's largest buffer (${limit} MiB). Use a shorter context, fewer heads or a smaller batch.`,
    );
    assert.equal(await page.evaluate(() => window.tpTraining.state), 'idle', 'nothing started');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
