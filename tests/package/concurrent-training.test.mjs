// Issue 9, load: several models on one page training at the same time do not interfere. Each model (through
// the package API, and as <transformer-playground> widgets) has its own seed and corpus; trained side by side
// (interleaved promises, two on the CPU and one on WebGPU), each one's losses and generated text must equal
// those of the same model trained alone, and each widget's DOM must show only its own run.
// Needs lib/ (bash scripts/build.sh && npm run build:lib) and Chromium; the page runs under the strict CSP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../scripts/static-server.mjs';
import { launchBrowser, ROOT, screenshot, skipReason } from './helpers.mjs';

const skip = skipReason({ browser: true });
let server;
let browser;
let page;
let consoleErrors;
let requests;
let origin;

before(async () => {
  if (skip) return;
  ({ server, url: origin } = await startServer(ROOT)); // serves the repository: /lib/ and the fixture
  ({ browser, page, consoleErrors, requests } = await launchBrowser());
  await page.goto(`${origin}tests/package/fixtures/concurrent.html`);
  await page.waitForFunction(() => customElements.get('transformer-playground'), null, { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  if (server) await new Promise((done) => server.close(done));
});

/** Every pair of runs overlaps in time: each started before the other finished. */
function assertInterleaved(order, names) {
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      assert.ok(order.indexOf(a) < order.lastIndexOf(b), `${a} started before ${b} finished (order: ${compress(order)})`);
    }
  }
}

/** 'a a a b b a' -> 'a×3 b×2 a×1': the interleaving, readable. */
function compress(order) {
  const runs = [];
  for (const name of order) {
    if (runs.length && runs.at(-1)[0] === name) runs.at(-1)[1]++;
    else runs.push([name, 1]);
  }
  return runs.map(([name, n]) => `${name}×${n}`).join(' ');
}

// Three different models: own corpus, seed, size and backend. The CPU ones are sized so that their runs take
// about as long as the WebGPU one (SwiftShader: ~100 ms a step), so the three really overlap.
const MODELS = [
  { name: 'stories', corpus: 'stories', seed: 11, steps: 120, backend: 'cpu', config: { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32 } },
  { name: 'copy', corpus: 'copy', seed: 22, steps: 150, backend: 'cpu', config: { nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 24 } },
  { name: 'reverse', corpus: 'reverse', seed: 33, steps: 30, backend: 'webgpu', config: { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 8 } },
];

test('three models train at once through the package API (CPU and WebGPU), each as it would alone', { skip }, async (t) => {
  const runs = (together) =>
    page.evaluate(
      async ({ specs, together }) => {
        const tp = await import('/lib/index.js');
        const order = [];
        const options = (spec, losses) => ({
          batchSize: 4,
          lr: 3e-3,
          seed: spec.seed,
          evalInterval: 10,
          scheduleSteps: spec.steps,
          onProgress: (p) => {
            losses.push(p.loss);
            if (together) order.push(spec.name);
          },
        });
        // Each model takes its first step before the race: a WebGPU model compiles its ~40 pipelines then
        // (seconds on SwiftShader, in long synchronous stretches of the main thread; see the last test).
        const build = async (spec) => {
          const text = await tp.generateCorpus(spec.corpus, { bytes: 6000, seed: spec.seed });
          const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
          const model = await tp.createModel({ tokenizer, config: spec.config, seed: spec.seed, backend: spec.backend });
          const losses = [];
          await model.train({ text, steps: 1, ...options(spec, losses) });
          return { spec, tokenizer, model, losses };
        };
        const run = async ({ spec, model, tokenizer, losses }) => {
          const t0 = performance.now();
          await model.train({ steps: spec.steps - 1, ...options(spec, losses) });
          const ms = performance.now() - t0;
          const sample = await model.generate(spec.corpus === 'stories' ? 'Once' : spec.corpus, { maxTokens: 30, temperature: 0.8, seed: 5 });
          const result = { name: spec.name, backend: model.backend, steps: model.stepCount, losses, sample, ms };
          model.dispose();
          tokenizer.dispose();
          return result;
        };
        const built = [];
        for (const spec of specs) built.push(await build(spec));
        const t0 = performance.now();
        let results;
        if (together) results = await Promise.all(built.map(run));
        else {
          results = [];
          for (const b of built) results.push(await run(b));
        }
        return { results, order, ms: performance.now() - t0, resources: tp.resourceCount() };
      },
      { specs: MODELS, together },
    );
  const together = await runs(true);
  const alone = await runs(false);
  console.log(`together: ${together.ms.toFixed(0)} ms (${together.results.map((r) => `${r.name} ${r.ms.toFixed(0)} ms`).join(', ')}); order ${compress(together.order)}`);
  console.log(`one after another: ${alone.ms.toFixed(0)} ms (${alone.results.map((r) => `${r.name} ${r.ms.toFixed(0)} ms`).join(', ')})`);
  for (const [i, spec] of MODELS.entries()) {
    const a = together.results[i];
    const b = alone.results[i];
    console.log(`${spec.name} (${a.backend}): loss ${a.losses[0].toFixed(4)} -> ${a.losses.at(-1).toFixed(4)}; sample ${JSON.stringify(a.sample)}`);
    assert.equal(a.backend, spec.backend);
    assert.equal(a.steps, spec.steps);
    assert.equal(a.losses.length, spec.steps);
    assert.ok(a.losses.at(-1) < a.losses[0], `${spec.name}: the loss falls`);
    assert.deepEqual(a.losses, b.losses, `${spec.name}: the same losses trained with the others as alone`);
    assert.equal(a.sample, b.sample, `${spec.name}: the same generated text`);
  }
  assertInterleaved(together.order, MODELS.map((m) => m.name));
  // Different seeds and data: no two runs are the same.
  assert.notDeepEqual(together.results[0].losses.slice(0, 30), together.results[1].losses.slice(0, 30));
  assert.deepEqual(together.resources, { tokenizer: 0, model: 0, gpu: 0 }, 'every model, tokenizer and device was freed');
});

test('three <transformer-playground> widgets train at once on one page without touching each other', { skip }, async (t) => {
  /** Adds the widgets, trains them (all at once, or one by one), and reads what each one shows. */
  const runWidgets = (specs, together, keep = false) =>
    page.evaluate(
      async ({ specs, together, keep }) => {
        const main = document.getElementById('widgets');
        const order = [];
        const views = specs.map((spec) => {
          const view = document.createElement('transformer-playground');
          view.id = `w-${spec.name}`;
          view.setAttribute('corpus', spec.corpus);
          view.setAttribute('corpus-bytes', '6000');
          view.setAttribute('tokenizer', 'char');
          view.setAttribute('config', JSON.stringify(spec.config));
          view.setAttribute('seed', String(spec.seed));
          view.setAttribute('steps', String(spec.steps));
          view.setAttribute('backend', spec.backend);
          view.setAttribute('prompt', spec.corpus === 'stories' ? 'Once' : spec.corpus);
          view.setAttribute('max-tokens', '30');
          main.append(view);
          const seen = { losses: [], totals: new Set(), trained: 0, errors: [] };
          view.addEventListener('progress', (e) => {
            seen.losses.push(e.detail.loss);
            seen.totals.add(e.detail.total);
            order.push(spec.name);
          });
          view.addEventListener('trained', () => seen.trained++);
          view.addEventListener('error', (e) => seen.errors.push(e.detail.message));
          return { view, seen, spec };
        });
        for (const { view } of views) await view.updateComplete;
        const train = ({ view }) => view.train();
        if (together) await Promise.all(views.map(train));
        else for (const v of views) await train(v);
        const outputs = [];
        for (const { view } of views) outputs.push(await view.generate());
        const read = ({ view, seen, spec }, i) => {
          const root = view.shadowRoot;
          return {
            name: spec.name,
            state: view.state,
            backend: view.model.backend,
            stepCount: view.model.stepCount,
            losses: seen.losses,
            totals: [...seen.totals],
            trained: seen.trained,
            errors: seen.errors,
            status: root.querySelector('.status:not(:empty)')?.textContent ?? '',
            statuses: [...root.querySelectorAll('.status')].map((s) => s.textContent),
            progress: root.querySelector('progress').value,
            progressMax: root.querySelector('progress').max,
            output: root.querySelector('.output').textContent,
            generated: outputs[i],
            modelsDiffer: views.every((other) => other.view === view || other.view.model !== view.model),
            rootsDiffer: views.every((other) => other.view === view || other.view.shadowRoot !== root),
            childrenInLight: view.children.length,
          };
        };
        const result = { widgets: views.map(read), order };
        if (!keep) for (const { view } of views) view.remove();
        return result;
      },
      { specs, together, keep },
    );
  const t0 = Date.now();
  const together = await runWidgets(MODELS, true, true);
  const togetherMs = Date.now() - t0;
  await screenshot(page, 'concurrent-widgets');
  await page.evaluate(() => document.querySelectorAll('transformer-playground').forEach((view) => view.remove()));
  // The same widgets again, each alone on the page.
  const alone = [];
  for (const spec of MODELS) alone.push((await runWidgets([spec], false)).widgets[0]);
  console.log(`widgets together: ${togetherMs} ms, order ${compress(together.order)}`);
  // The CPU widgets alternate step by step. The WebGPU widget's first step compiles its pipelines in long
  // synchronous stretches (see the last test), so its steps may all come after theirs: not asserted.
  assertInterleaved(together.order, MODELS.filter((m) => m.backend === 'cpu').map((m) => m.name));
  for (const [i, spec] of MODELS.entries()) {
    const w = together.widgets[i];
    const solo = alone[i];
    console.log(`#w-${spec.name} (${w.backend}): ${w.status}; output ${JSON.stringify(w.output)}`);
    assert.equal(w.state, 'ready');
    assert.deepEqual(w.errors, []);
    assert.equal(w.backend, spec.backend);
    assert.equal(w.trained, 1, 'one trained event, its own');
    assert.equal(w.stepCount, spec.steps);
    assert.deepEqual(w.totals, [spec.steps], 'every progress event it got was its own (its own step total)');
    assert.equal(w.losses.length, spec.steps);
    assert.deepEqual(w.losses, solo.losses, `${spec.name}: the same losses as alone`);
    assert.equal(w.generated, solo.generated, `${spec.name}: the same text as alone`);
    // Its DOM shows its own run: its step count and last loss, its progress bar, its own text.
    assert.ok(w.statuses.some((s) => s.startsWith(`step ${spec.steps} · loss ${w.losses.at(-1).toFixed(3)}`)), `status shows its own step and loss: ${JSON.stringify(w.statuses)}`);
    assert.equal(w.progress, spec.steps);
    assert.equal(w.progressMax, spec.steps);
    assert.equal(w.output, w.generated);
    assert.ok(w.modelsDiffer && w.rootsDiffer, 'its own model and shadow root');
    assert.equal(w.childrenInLight, 0, 'nothing was put into the page outside its shadow root');
  }
  assert.notEqual(together.widgets[0].output, together.widgets[1].output);
  assert.deepEqual(consoleErrors, [], 'no console errors');
  assert.deepEqual(requests.filter((r) => !r.startsWith(origin)), [], 'no requests leave the page origin');
  const left = await page.evaluate(() => import('/lib/index.js').then((m) => m.resourceCount()));
  assert.deepEqual(left, { tokenizer: 0, model: 0, gpu: 0 }, 'removed widgets freed everything');
});

// A WebGPU model's first step creates its ~40 compute pipelines: seconds on SwiftShader. This measures what
// the page feels meanwhile, in a fresh browser (the first WebGPU model of a page), with a 10 ms timer: the
// longest gap between its ticks (how long a click waits at worst) and the share of time the timer was late.
// Measured here: the first model of a page freezes the main thread once for 1.5 to 5.5 s, in native code (a
// DevTools profile shows "(program)", not JavaScript or wasm); later models on the same page stall it for at
// most ~0.2 s at a time. Every CPU widget on the page waits meanwhile. Marked todo: it fails until the
// WebGPU model's start moves off the main thread (a Worker) or stops blocking.
test('the first WebGPU model of a page does not freeze the main thread', { skip, todo: 'on SwiftShader the first WebGPU model of a page freezes the main thread for seconds (native code)' }, async (t) => {
  const spec = MODELS.find((m) => m.backend === 'webgpu');
  const fresh = await launchBrowser();
  try {
    await fresh.page.goto(`${origin}tests/package/fixtures/concurrent.html`);
    const probe = await fresh.page.evaluate(async (spec) => {
      const tp = await import('/lib/index.js');
      const text = await tp.generateCorpus(spec.corpus, { bytes: 6000, seed: spec.seed });
      const tokenizer = await tp.trainTokenizer(text, { kind: 'char' });
      const t0 = performance.now();
      let last = t0;
      let longest = 0;
      let late = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        late += Math.max(0, now - last - 10);
        last = now;
      }, 10);
      const model = await tp.createModel({ tokenizer, config: spec.config, seed: spec.seed, backend: 'webgpu' });
      await model.train({ text, steps: 1 });
      const firstStep = performance.now() - t0;
      const t1 = performance.now();
      await model.train({ steps: 10 });
      const tenSteps = performance.now() - t1;
      clearInterval(timer);
      longest = Math.max(longest, performance.now() - last);
      model.dispose();
      tokenizer.dispose();
      return { firstStep, tenSteps, longest, busy: late / (performance.now() - t0) };
    }, spec);
    console.log(
      `first WebGPU model of a page: create + first step ${probe.firstStep.toFixed(0)} ms, then 10 steps ${probe.tenSteps.toFixed(0)} ms; ` +
        `longest main-thread stall ${probe.longest.toFixed(0)} ms; the 10 ms timer was late ${(probe.busy * 100).toFixed(0)}% of the time`,
    );
    assert.ok(probe.longest < 500, `the main thread froze for ${probe.longest.toFixed(0)} ms at once`);
  } finally {
    await fresh.browser.close();
  }
});
