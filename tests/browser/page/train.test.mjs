// Training in the page: a tiny model trains 30 steps in the worker, the loss on the chart falls, validation
// runs, pause and resume keep the step count, and fine-tuning on a second text adds a second phase to the
// same chart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEXT, greedy, openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

/** Safetensors bytes of a small fresh model with `vocab` tokens and no tokenizer inside, made by the wasm build
 *  under Node (pkg/). */
async function foreignModelBytes(vocab) {
  const pkg = join(import.meta.dirname, '..', '..', '..', 'pkg');
  const core = await import(join(pkg, 'transformer_playground.js'));
  core.initSync({ module: readFileSync(join(pkg, 'transformer_playground_bg.wasm')) });
  const model = new core.CpuModel({ vocab_size: vocab, n_layer: 1, n_head: 2, n_embd: 16, block_size: 16 }, 1);
  const bytes = Buffer.from(model.saveSafetensors());
  model.free();
  return bytes;
}


export async function trainSteps(page, steps, { evalEvery = 10 } = {}) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 3, '#t-batch': 4, '#t-accum': 1, '#t-eval': evalEvery, '#t-seed': 1 })) await page.fill(id, String(v));
  await page.click('#train-start');
  await page.waitForFunction(() => ['done', 'idle'].includes(window.tpTraining?.state) || document.querySelector('#train-status')?.dataset.kind === 'error', null, { timeout: 120_000 });
  const status = await page.textContent('#train-status');
  assert.doesNotMatch(status, /Cannot|stopped/, status);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('a tiny model trains 30 steps and the loss on the chart falls; fine-tuning adds a phase', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await trainSteps(page, 30);
    const training = await page.evaluate(() => window.tpTraining);
    assert.equal(training.state, 'done');
    const steps = training.phases[0].steps;
    assert.equal(steps.length, 30);
    const first = mean(steps.slice(0, 5).map((s) => s.loss));
    const last = mean(steps.slice(-5).map((s) => s.loss));
    console.log(`loss: first 5 steps ${first.toFixed(3)}, last 5 ${last.toFixed(3)}; ${Math.round(steps.at(-1).tokensPerSec)} tokens/s`);
    assert.ok(last < first - 0.3, `the loss falls: ${first} -> ${last}`);
    assert.ok(first < Math.log(12) + 0.5, 'it starts near the uniform loss ln(V)');
    // The chart shows the same numbers.
    const chart = await page.evaluate(() => window.tpCharts.loss);
    assert.deepEqual(chart[0].points.map((p) => p[1]), steps.map((s) => s.loss));
    assert.ok(chart[1].points.length >= 3, 'validation loss points at steps 10, 20, 30');
    assert.match(await page.textContent('#train-progress-text'), /step 30 \/ 30/);
    await screenshot(page, 'panel-training-run');

    // Fine-tune on a second text: the same chart gets a second phase after step 30.
    await openPanel(page, 'data');
    await page.fill('#user-text', 'xyzxyw xyzxyw abcabd. '.repeat(60));
    await page.click('#use-text');
    await openPanel(page, 'training');
    await page.check('#t-keep');
    await page.fill('#t-steps', '10');
    await page.click('#train-start');
    await page.waitForFunction(() => window.tpTraining.state === 'done' && window.tpTraining.phases.length === 2, null, { timeout: 120_000 });
    const after = await page.evaluate(() => window.tpTraining);
    assert.equal(after.phases[1].offset, 30);
    const loss = await page.evaluate(() => window.tpCharts.loss);
    assert.equal(loss.length, 4, 'train and validation series for each phase');
    assert.equal(loss[2].points[0][0], 31, 'phase 2 continues the step axis');
    await screenshot(page, 'panel-training-finetune');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('generation streams tokens; greedy picks the top alternative; markup in the prompt stays text', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await trainSteps(page, 30);
    await openPanel(page, 'generate');
    await page.fill('#g-prompt', 'abc<img src=x onerror="window.pwned=1">');
    await page.fill('#g-temp', '0');
    await page.fill('#g-max', '20');
    await page.evaluate(() => {
      window.streamed = 0;
      new MutationObserver(() => (window.streamed = Math.max(window.streamed, document.querySelectorAll('#gen-output .tok').length))).observe(
        document.querySelector('#gen-output'),
        { childList: true },
      );
    });
    await page.click('#generate');
    await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
    const result = await page.evaluate(() => window.tpGenerated);
    assert.equal(result.tokens.length, 20);
    assert.ok(result.text.length > 0, 'the generated text is not empty');
    assert.ok((await page.evaluate(() => window.streamed)) >= 20, 'tokens appeared one by one');
    for (const token of result.tokens) {
      assert.ok(token.alternatives.length > 0, 'each token has its alternatives');
      const probs = token.alternatives.map((a) => a.prob);
      assert.ok(probs.every((p, i) => i === 0 || p <= probs[i - 1]), 'alternatives are sorted');
      assert.ok(probs.reduce((a, b) => a + b, 0) <= 1 + 1e-5);
      assert.equal(token.text, token.alternatives[0].text, 'temperature 0 takes the likeliest token');
    }
    assert.match(await page.textContent('#gen-stats'), /first token after [\d.]+ ms \(latency\) · \d+ tokens\/s \(throughput, with the KV cache\)/);
    assert.equal(await page.$$eval('#panel-generate img', (l) => l.length), 0, 'the prompt markup stayed text');
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await page.focus('#gen-output .tok');
    assert.match(await page.textContent('#tooltip'), /%/);
    // The same seed gives the same text when sampling.
    await page.fill('#g-temp', '1');
    const sample = async () => {
      await page.evaluate(() => (window.tpGenerated = null));
      await page.click('#generate');
      await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
      return page.evaluate(() => window.tpGenerated.text);
    };
    assert.equal(await sample(), await sample());
    await screenshot(page, 'panel-generate-run');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test("the model's attention: a heatmap per layer and head, and the one-step numbers match a reference", { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await openPanel(page, 'model');
    await page.fill('#m-layers', '2');
    await trainSteps(page, 20);
    await openPanel(page, 'attention');
    await page.fill('#att-text', 'abcabd abcab');
    await page.click('#att-run');
    await page.waitForSelector('#att-model-steps');
    const maps = await page.evaluate(() => window.tpModelAttention);
    assert.deepEqual([maps.nLayer, maps.nHead, maps.t], [2, 2, 12]);
    assert.equal(await page.$$eval('#att-grid canvas.heatmap', (l) => l.length), 4, 'one heatmap per layer and head');
    const T = maps.t;
    for (let m = 0; m < 4; m++)
      for (let i = 0; i < T; i++) {
        const row = maps.att.slice((m * T + i) * T, (m * T + i + 1) * T);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'each row sums to 1');
        assert.ok(row.slice(i + 1).every((x) => x === 0), 'no attention to later tokens');
      }
    const inked = await page.$eval('#att-l1-h1 canvas', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colors = new Set();
      for (let i = 0; i < d.length; i += 4) colors.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
      return colors.size;
    });
    assert.ok(inked > 5, `the heatmap is not blank (${inked} colors)`);
    // One head at one query in full, checked against the test's own arithmetic on the model's q, k, v.
    for (const [layer, head, query] of [[1, 1, 11], [0, 1, 4]]) {
      await page.selectOption('#att-layer', String(layer));
      await page.selectOption('#att-head', String(head));
      await page.selectOption('#att-query-model', String(query));
      await page.waitForFunction(([l, h, q]) => window.tpModelAttentionStep?.source.startsWith(`layer ${l}, head ${h}`) && window.tpModelAttentionStep.query === q, [layer, head, query]);
      const step = await page.evaluate(() => window.tpModelAttentionStep);
      const { q, k, v } = step;
      const scores = k.map((row) => row.reduce((s, x, i) => s + x * q[i], 0));
      const scaled = scores.map((s) => s / Math.sqrt(step.dk));
      const visible = scaled.map((_, j) => j <= query);
      const max = Math.max(...scaled.filter((_, j) => visible[j]));
      const e = scaled.map((s, j) => (visible[j] ? Math.exp(s - max) : 0));
      const sum = e.reduce((a, b) => a + b, 0);
      const weights = e.map((x) => x / sum);
      const out = q.map((_, d) => weights.reduce((s, w, j) => s + w * v[j][d], 0));
      const close = (a, b, what) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-4 + 1e-4 * Math.abs(b[i]), `${what}[${i}]: page ${x}, reference ${b[i]}`));
      close(step.scores, scores, 'q·k');
      close(step.scaled, scaled, 'scaled');
      close(step.weights, weights, 'softmax');
      close(step.out, out, 'weighted sum');
      step.masked.forEach((x, j) => assert.equal(x === -Infinity, j > query, 'the mask'));
      // The grid shows the same weights as the step view.
      const base = ((layer * maps.nHead + head) * T + query) * T;
      close(maps.att.slice(base, base + T), step.weights, 'grid row');
    }
    await page.hover('#att-model-text .tok[data-query="4"]');
    assert.match(await page.textContent('#att-model-note'), /attends to/);
    await screenshot(page, 'panel-attention-model');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('the model survives a reload; safetensors download, bad files refused, upload restores it', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await trainSteps(page, 20);
    const before = await greedy(page, 'abcab');
    const params = await page.evaluate(() => window.tp.store.modelInfo.paramCount);
    // Wait until the weights are in IndexedDB, then reload.
    await page.waitForFunction(
      () =>
        new Promise((resolve) => {
          const open = indexedDB.open('transformer-playground');
          open.onsuccess = () => {
            const get = open.result.transaction('session').objectStore('session').get('model-weights');
            get.onsuccess = () => resolve(get.result instanceof Uint8Array && get.result.length > 1000);
          };
        }),
    );
    await page.reload();
    await waitReady(page);
    assert.equal(await page.evaluate(() => window.tp.store.modelInfo?.paramCount), params, 'the model is back');
    assert.deepEqual(await greedy(page, 'abcab'), before, 'with the same weights: the same greedy text');
    assert.equal(await page.evaluate(() => window.tpTraining.phases[0].steps.length), 20, 'and the loss chart is back');

    // Download, then upload a broken copy (refused, model kept) and the good one.
    await openPanel(page, 'session');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-model')]);
    assert.equal(download.suggestedFilename(), 'model.safetensors');
    const bytes = await (async () => {
      const chunks = [];
      for await (const chunk of await download.createReadStream()) chunks.push(chunk);
      return Buffer.concat(chunks);
    })();
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
    assert.ok(header['transformer.wte.weight'], 'nanoGPT tensor names');
    for (const [name, broken, reason] of [
      ['truncated.safetensors', bytes.subarray(0, bytes.length - 100), /./],
      ['garbage.safetensors', Buffer.from('this is not a model at all, just some text'), /./],
      // A model that does not belong to the current tokenizer (no tokenizer inside, another vocabulary).
      ['other-vocab.safetensors', await foreignModelBytes(50), /the model has a vocabulary of 50 tokens but the current tokenizer has \d+: load the tokenizer it was trained with first/],
    ]) {
      await page.setInputFiles('#load-model', { name, mimeType: 'application/octet-stream', buffer: broken });
      await page.waitForFunction((n) => document.querySelector('#model-message').textContent.includes(n), name);
      assert.match(await page.textContent('#model-message'), /did not load: .+ The current model is unchanged\./);
      assert.match(await page.textContent('#model-message'), reason);
      console.log(`${name}: ${await page.textContent('#model-message')}`);
    }
    assert.deepEqual(await greedy(page, 'abcab'), before, 'the model is unchanged after the refusals');
    await openPanel(page, 'training');
    await page.click('#train-reset');
    await page.click('#confirm-reset-confirm');
    await page.waitForFunction(() => window.tp.store.modelInfo === null);
    await openPanel(page, 'session');
    await page.setInputFiles('#load-model', { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
    await page.waitForFunction(() => document.querySelector('#model-message').textContent.includes('Loaded'));
    assert.deepEqual(await greedy(page, 'abcab'), before, 'the uploaded file gives the same model');
    await openPanel(page, 'session');
    await screenshot(page, 'panel-session');
    // A loaded model can be fine-tuned: keep its weights and train on.
    await openPanel(page, 'training');
    assert.equal(await page.$eval('#t-keep', (c) => c.disabled), false);
    await page.check('#t-keep');
    await page.fill('#t-steps', '5');
    await page.fill('#t-warmup', '1');
    await page.fill('#t-lr', '0.003');
    await page.click('#train-start');
    await page.waitForFunction(() => /Done: 5 steps/.test(document.querySelector('#train-status').textContent), null, { timeout: 60_000 });
    const tuned = await page.evaluate(() => window.tpTraining.phases.at(-1).steps);
    assert.equal(tuned.length, 5);
    assert.ok(tuned[0].loss < 1.5, `fine-tuning starts from the trained weights (loss ${tuned[0].loss}, fresh weights start near ln V ≈ 2.2)`);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('the embeddings map redraws while the model trains', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await openPanel(page, 'training');
    for (const [id, v] of Object.entries({ '#t-steps': 6000, '#t-lr': 0.01, '#t-warmup': 3, '#t-batch': 4, '#t-eval': 1000 })) await page.fill(id, String(v));
    await page.click('#train-start');
    await openPanel(page, 'embeddings');
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    await page.waitForFunction(() => !document.querySelector('#embeddings-note').textContent.includes('Updating'));
    const view = await page.evaluate(() => window.tpEmbeddings);
    console.log(`embeddings drawn ${view.draws} times during ${await page.evaluate(() => window.tpTraining.phases[0].steps.length)} steps`);
    assert.ok(view.draws >= 3, `redrawn while training (${view.draws} draws)`);
    assert.ok(view.labels.includes('a') && view.labels.includes('␣'), `token labels: ${view.labels}`);
    // The map is the projection of the (centred) embeddings on the two directions.
    const { wte, nEmbd: d, pca } = view;
    const n = view.labels.length;
    const mean = Array.from({ length: d }, (_, j) => Array.from({ length: n }, (_, i) => wte[i * d + j]).reduce((a, b) => a + b, 0) / n);
    pca.points.forEach(([x, y], i) => {
      const row = Array.from({ length: d }, (_, j) => wte[i * d + j] - mean[j]);
      const px = row.reduce((s, v, j) => s + v * pca.axes[0][j], 0);
      const py = row.reduce((s, v, j) => s + v * pca.axes[1][j], 0);
      assert.ok(Math.abs(px - x) < 1e-6 && Math.abs(py - y) < 1e-6);
    });
    assert.ok(pca.variances[0] >= pca.variances[1] && pca.variances[0] + pca.variances[1] <= pca.total * (1 + 1e-9));
    await screenshot(page, 'panel-embeddings');
    // The learned position vectors' similarity, in the Positions panel.
    await openPanel(page, 'positions');
    await page.waitForSelector('#learned-figure');
    const learned = await page.evaluate(() => window.tpLearnedSimilarity);
    assert.deepEqual([learned.positions, learned.dims], [16, 16]);
    const vec = (p) => learned.vectors.slice(p * 16, (p + 1) * 16);
    const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    for (const [a, b] of [[0, 0], [3, 9], [15, 1]]) {
      const expected = dot(vec(a), vec(b)) / Math.sqrt(dot(vec(a), vec(a)) * dot(vec(b), vec(b)));
      assert.ok(Math.abs(learned.similarity[a * 16 + b] - expected) < 1e-5, `learned sim[${a}, ${b}]`);
    }
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('a learning rate that diverges stops training with the reason and keeps the last good weights', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // A text shorter than the context is refused with the reason.
    await setUpTinyModel(page, 'abcab');
    await openPanel(page, 'training');
    await page.click('#train-start');
    await page.waitForFunction(() => document.querySelector('#train-status').dataset.kind === 'error');
    assert.match(await page.textContent('#train-status'), /the training text has \d+ tokens; it needs more than seq_len = 16/);
    // Now a real text and a huge learning rate.
    await setUpTinyModel(page);
    await openPanel(page, 'training');
    for (const [id, v] of Object.entries({ '#t-steps': 50, '#t-lr': 1000000, '#t-minlr': 100000, '#t-warmup': 0, '#t-clip': 0, '#t-batch': 4, '#t-eval': 10 })) await page.fill(id, String(v));
    assert.equal(await page.textContent('#train-status'), '', 'large rates are allowed, to watch them fail');
    await page.click('#train-start');
    await page.waitForFunction(() => document.querySelector('#train-status').dataset.kind === 'error', null, { timeout: 60_000 });
    const status = await page.textContent('#train-status');
    console.log(status);
    assert.match(status, /diverged/);
    assert.match(status, /kept/);
    const steps = await page.evaluate(() => window.tpTraining.phases[0].steps.length);
    assert.ok(steps < 50, `it stopped early, after ${steps} steps`);
    // The kept weights still generate.
    await openPanel(page, 'generate');
    await page.fill('#g-max', '5');
    await page.click('#generate');
    await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => window.tpGenerated.tokens.length), 5);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('pause stops between steps, resume continues at the next step, reset forgets the model', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await setUpTinyModel(page);
    await openPanel(page, 'training');
    for (const [id, v] of Object.entries({ '#t-steps': 400, '#t-lr': 0.01, '#t-warmup': 3, '#t-batch': 4, '#t-eval': 50 })) await page.fill(id, String(v));
    // Press Pause from the page as soon as step 20 is shown (the page stays responsive while the worker trains).
    await page.evaluate(() => {
      const bar = document.querySelector('#train-progress');
      const observer = new MutationObserver(() => {
        if (Number(bar.value) >= 20) {
          observer.disconnect();
          document.querySelector('#train-pause').click();
        }
      });
      observer.observe(bar, { attributes: true });
    });
    await page.click('#train-start');
    await page.waitForFunction(() => window.tpTraining.state === 'paused', null, { timeout: 60_000 });
    const pausedAt = await page.evaluate(() => window.tpTraining.phases[0].steps.length);
    assert.ok(pausedAt >= 20 && pausedAt < 400, `paused at step ${pausedAt}`);
    assert.match(await page.textContent('#train-status'), new RegExp(`Paused at step ${pausedAt}`));
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.tpTraining.phases[0].steps.length), pausedAt, 'nothing trains while paused');
    assert.equal(await page.$eval('#train-resume', (b) => b.disabled), false);
    await page.click('#train-resume');
    await page.waitForFunction(() => window.tpTraining.state === 'done', null, { timeout: 120_000 });
    const steps = await page.evaluate(() => window.tpTraining.phases[0].steps.map((s) => s.step));
    assert.deepEqual(steps, Array.from({ length: 400 }, (_, i) => i + 1), 'resume continued at the next step, none lost or repeated');
    await page.click('#train-reset');
    await page.click('#confirm-reset-confirm');
    await page.waitForFunction(() => window.tp.store.modelInfo === null && window.tpTraining.phases.length === 0);
    assert.equal(await page.$eval('#train-reset', (b) => b.disabled), true);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('training on WebGPU (SwiftShader here): the loss falls, the page says where it ran', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tp.store.backend === 'webgpu');
    await setUpTinyModel(page);
    await trainSteps(page, 12, { evalEvery: 6 });
    const training = await page.evaluate(() => window.tpTraining);
    const losses = training.phases[0].steps.map((s) => s.loss);
    console.log(`WebGPU losses: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    assert.equal(losses.length, 12);
    assert.ok(losses.at(-1) < losses[0] - 0.2, `the loss falls on WebGPU: ${losses[0]} -> ${losses.at(-1)}`);
    assert.match(await page.textContent('#train-status'), /Done: 12 steps on WebGPU/);
    assert.equal(await page.evaluate(() => window.tp.store.modelInfo.backend), 'webgpu');
    // The weights come back to the CPU model after the run: it generates from what WebGPU trained.
    assert.equal(await page.evaluate(() => window.tp.store.modelInfo.inspectable), true, 'the weights were copied to the CPU');
    await openPanel(page, 'generate');
    await page.fill('#g-prompt', 'abcab');
    await page.fill('#g-temp', '0');
    await page.fill('#g-max', '8');
    await page.click('#generate');
    await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
    const generated = await page.evaluate(() => window.tpGenerated);
    assert.equal(generated.tokens.length, 8);
    for (const t of generated.tokens) assert.equal(t.text, t.alternatives[0].text);
    // WebGPU is the chosen backend, so the GPU copy of the weights generates (not silently the CPU copy), and
    // the page says so; its first token prediction is confident, not uniform (the trained weights).
    assert.equal(generated.backend, 'webgpu');
    assert.match(await page.textContent('#gen-stats'), /on WebGPU/);
    assert.ok(generated.tokens[0].alternatives[0].prob > 1 / 8, 'the weights are trained, not uniform');
    await openPanel(page, 'training');
    await screenshot(page, 'panel-training-webgpu');
    // Fine-tuning a model trained on WebGPU: its weights start a new run on the same device.
    const trained = losses.at(-1);
    await page.check('#t-keep');
    await page.fill('#t-steps', '4');
    await page.click('#train-start');
    await page.waitForFunction(() => window.tpTraining.state === 'done' && window.tpTraining.phases.length === 2, null, { timeout: 120_000 });
    assert.match(await page.textContent('#train-status'), /Done: 4 steps on WebGPU/);
    const tuned = await page.evaluate(() => window.tpTraining.phases[1].steps.map((s) => s.loss));
    assert.ok(tuned[0] < losses[0] - 0.2 && Math.abs(tuned[0] - trained) < 0.3, `fine-tuning starts from the trained weights: ${losses[0]} / ${trained} -> ${tuned[0]}`);
    assert.deepEqual(consoleErrors.filter((e) => !/model was not kept/.test(e)), []);
  } finally {
    await close();
  }
});
