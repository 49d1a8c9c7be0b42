// The Generate panel: what temperature, top-k and top-p do to a next-token distribution (checked against a
// reference computed here; bad settings refused); without a model, a clear state with the way to get one; with
// one, the streamed tokens as a person sees them: speeds measured around the whole call and where it ran, each
// token's own probability, the plain text with a copy button, and a stopped run that looks stopped.
// (Streaming itself, greedy choices and markup in the prompt: train.test.mjs.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

/** Trains the tiny model `steps` steps in the Training panel. */
async function trainSteps(page, steps) {
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': steps, '#t-warmup': 2, '#t-batch': 4, '#t-eval': 100 })) await page.fill(id, String(v));
  await page.click('#train-start');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 120_000 });
}

function reference(logits, { temperature, topK, topP }) {
  const e = logits.map((l) => Math.exp(l / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  const probs = e.map((x) => x / sum);
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  const top = topK > 0 ? order.slice(0, topK) : order;
  const massK = top.reduce((a, i) => a + probs[i], 0);
  const kept = new Set();
  let c = 0;
  for (const i of top) {
    kept.add(i);
    c += probs[i] / massK;
    if (c >= topP - 1e-12) break;
  }
  const mass = [...kept].reduce((a, i) => a + probs[i], 0);
  return { probs, final: probs.map((p, i) => (kept.has(i) ? p / mass : 0)) };
}

test('sampling settings reshape the next-token distribution as the formulas say', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await openPanel(page, 'generate');
    const cases = [
      { temperature: 1, topK: 0, topP: 1 },
      { temperature: 0.5, topK: 3, topP: 1 },
      { temperature: 1.5, topK: 0, topP: 0.8 },
      { temperature: 1, topK: 5, topP: 0.6 },
    ];
    for (const s of cases) {
      await page.fill('#g-temp', String(s.temperature));
      await page.fill('#g-topk', String(s.topK));
      await page.fill('#g-topp', String(s.topP));
      const view = await page.evaluate(() => window.tpSampling);
      const ref = reference(view.logits, s);
      view.probs.forEach((p, i) => assert.ok(Math.abs(p - ref.probs[i]) < 1e-12, `p[${i}] for ${JSON.stringify(s)}`));
      view.final.forEach((p, i) => assert.ok(Math.abs(p - ref.final[i]) < 1e-12, `final[${i}] for ${JSON.stringify(s)}`));
      const shown = await page.$$eval('#sampling-table td[data-col=final]', (l) => l.map((td) => td.textContent));
      shown.forEach((text, i) => assert.equal(text, ref.final[i] > 0 ? ref.final[i].toFixed(3) : 'filtered'));
      if (s.topK === 3) assert.equal(ref.final.filter((p) => p > 0).length, 3, 'top-k 3 keeps three tokens');
    }
    // Temperature 0 is greedy: all the probability on the likeliest token.
    await page.fill('#g-temp', '0');
    await page.fill('#g-topk', '0');
    await page.fill('#g-topp', '1');
    const greedy = await page.evaluate(() => window.tpSampling.final);
    assert.deepEqual(greedy, [1, 0, 0, 0, 0, 0, 0, 0]);
    await page.fill('#g-temp', '0.8');
    for (const [id, value, reason] of [['#g-topp', '0', /top-p must be above 0/], ['#g-temp', '-1', /temperature must be/], ['#g-max', '0', /max tokens/]]) {
      const before = await page.inputValue(id);
      await page.fill(id, value);
      assert.match(await page.textContent('#gen-status'), reason);
      await page.fill(id, before);
      assert.equal(await page.textContent('#gen-status'), '');
    }
    await page.fill('#g-topk', '4');
    await screenshot(page, 'panel-generate');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('without a model, Generate says so plainly and shows the way to a model', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  try {
    await waitReady(page);
    await openPanel(page, 'generate');
    assert.ok(await page.isVisible('#gen-need-model'), 'the no-model notice is shown');
    assert.match(await page.textContent('#gen-need-model'), /No model to generate with yet/);
    assert.equal(await page.isDisabled('#generate'), true, 'Generate waits for a model instead of failing');
    assert.equal(await page.getAttribute('#gen-go-train', 'href'), '#training');
    assert.equal(await page.isVisible('#gen-views'), false, 'no text to copy before a run');
    // The notice is a block of normal-size text, not a grey hint line.
    const size = await page.$eval('#gen-need-model', (e) => parseFloat(getComputedStyle(e).fontSize));
    assert.ok(size >= 14, `the notice's text is ${size}px`);
    // Nothing wider than a phone.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at 390 px');
    await screenshot(page, 'panel-generate-no-model-390-dark');
    await page.click('#gen-go-train');
    await page.waitForSelector('#panel-training:not([hidden])');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

/** Records, in the page, when Generate is pressed and when the result is set (window.tpGenerated). */
async function clickGenerate(page) {
  await page.evaluate(() => {
    let value = null;
    Object.defineProperty(window, 'tpGenerated', {
      configurable: true,
      get: () => value,
      set: (v) => {
        value = v;
        window.generatedAt = performance.now();
      },
    });
    window.clickedAt = performance.now();
    document.querySelector('#generate').click();
  });
  await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
  return page.evaluate(() => ({ ...window.tpGenerated, wallMs: window.generatedAt - window.clickedAt }));
}

test('generated tokens: end-to-end speeds and where they ran, own probabilities, plain text to copy, Stop looks stopped', { skip: skipReason() }, async () => {
  const { page, browser, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await browser.contexts()[0].grantPermissions(['clipboard-read', 'clipboard-write']);
    await waitReady(page);
    await setUpTinyModel(page);
    await trainSteps(page, 20);
    await openPanel(page, 'generate');
    assert.equal(await page.isVisible('#gen-need-model'), false, 'with a model the notice is gone');
    await page.fill('#g-prompt', 'abc');
    await page.fill('#g-temp', '0');
    await page.fill('#g-max', '40');
    const result = await clickGenerate(page);
    assert.equal(result.tokens.length, 40);
    assert.equal(result.backend, 'cpu');
    // The speeds are the page's own clock around the whole call, not the model's time alone.
    assert.ok(result.totalMs <= result.wallMs + 1, `total ${result.totalMs} ms within the ${result.wallMs} ms the test saw`);
    assert.ok(result.totalMs >= result.modelMs, `total ${result.totalMs} ms includes the model's ${result.modelMs} ms`);
    assert.ok(result.totalMs >= 0.5 * result.wallMs, `total ${result.totalMs} ms is most of the ${result.wallMs} ms from the click to the result`);
    assert.ok(result.firstTokenMs > 0 && result.firstTokenMs <= result.totalMs);
    assert.ok(Math.abs(result.tokensPerSec - (40 * 1000) / result.totalMs) < 1e-6 * result.tokensPerSec);
    const stats = await page.textContent('#gen-stats');
    assert.match(stats, /on the CPU \(WebAssembly\)/);
    assert.match(stats, /from pressing Generate to the last token on the page/);
    assert.equal(await page.getAttribute('#gen-stats', 'data-state'), 'done');
    assert.equal(await page.textContent('#gen-outcome'), 'DONE');
    assert.equal(await page.getAttribute('#gen-end', 'class'), 'gen-end finished');
    const finishedLook = await page.$eval('#gen-stats', (e) => getComputedStyle(e).backgroundColor);
    // Each token's own probability: greedy takes the likeliest, so it is the first alternative's.
    for (const token of result.tokens) {
      assert.ok(token.prob > 0 && token.prob <= 1);
      assert.ok(Math.abs(token.prob - token.alternatives[0].prob) < 1e-6, 'greedy: its own probability is the top one');
    }
    await page.hover('#gen-output .tok[data-i="0"]');
    const tip = await page.textContent('#tooltip');
    const own = `${result.tokens[0].text}  ${(result.tokens[0].prob * 100).toFixed(1)}%`;
    assert.ok(tip.startsWith(own), `the tooltip "${tip}" starts with the token's own probability "${own}"`);
    // The plain text, and a copy of it.
    await page.click('#gen-view-text');
    assert.equal(await page.textContent('#gen-text'), `abc${result.text}`);
    assert.equal(await page.isVisible('#gen-output'), false);
    await page.click('#gen-copy');
    await page.waitForFunction(() => document.querySelector('#gen-copied').textContent !== '');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `abc${result.text}`);
    await page.click('#gen-view-tokens');
    // Stop as soon as the first token shows: the run ends early and says so, unlike a finished one.
    await page.fill('#g-max', '10000');
    await page.fill('#g-temp', '0.8');
    await page.evaluate(() => {
      const observer = new MutationObserver(() => {
        if (document.querySelector('#gen-output .tok')) {
          observer.disconnect();
          document.querySelector('#generate-stop').click();
        }
      });
      observer.observe(document.querySelector('#gen-output'), { childList: true });
    });
    const stopped = await clickGenerate(page);
    assert.equal(stopped.stopped, true);
    assert.ok(stopped.tokens.length < 10000, `${stopped.tokens.length} tokens before the stop`);
    assert.equal(await page.getAttribute('#gen-stats', 'data-state'), 'stopped');
    assert.equal(await page.textContent('#gen-outcome'), 'STOPPED');
    assert.match(await page.textContent('#gen-stats'), new RegExp(`Stopped after ${stopped.tokens.length} of 10000 tokens`));
    assert.equal(await page.getAttribute('#gen-end', 'class'), 'gen-end stopped');
    const stoppedLook = await page.$eval('#gen-stats', (e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(stoppedLook, finishedLook, 'a stopped run looks different from a finished one');
    await screenshot(page, 'panel-generate-stopped');
    for (const [width, scheme] of [[390, 'dark'], [390, 'light']]) {
      await page.setViewportSize({ width, height: 844 });
      await page.emulateMedia({ colorScheme: scheme });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), `no sideways scrolling at 390 px (${scheme})`);
      await screenshot(page, `panel-generate-390-${scheme}`);
    }
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('on WebGPU the GPU copy generates; a device lost while generating moves the model to the CPU, which generates the same', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
  try {
    await waitReady(page);
    await page.selectOption('#backend-select', 'webgpu');
    await page.waitForFunction(() => window.tp.store.backend === 'webgpu');
    await setUpTinyModel(page);
    await trainSteps(page, 6);
    assert.equal(await page.evaluate(() => window.tp.store.modelInfo.backend), 'webgpu');
    await openPanel(page, 'generate');
    await page.fill('#g-prompt', 'abcab');
    await page.fill('#g-temp', '0');
    await page.fill('#g-max', '8');
    const onGpu = await clickGenerate(page);
    assert.equal(onGpu.backend, 'webgpu', 'the GPU copy generated');
    assert.match(await page.textContent('#gen-stats'), /on WebGPU \(the GPU copy of the weights\)/);
    await page.evaluate(() => window.tp.simulateFault('device'));
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#gen-stats').dataset.state === 'error', null, { timeout: 60_000 });
    assert.match(await page.textContent('#gen-stats'), /generation stopped: the WebGPU device was lost/);
    await page.waitForFunction(() => window.tp.store.modelInfo?.backend === 'cpu', null, { timeout: 10_000 });
    const onCpu = await clickGenerate(page);
    assert.equal(onCpu.backend, 'cpu');
    assert.deepEqual(onCpu.tokens.map((t) => t.id), onGpu.tokens.map((t) => t.id), 'the same greedy tokens from the same weights on either device');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
