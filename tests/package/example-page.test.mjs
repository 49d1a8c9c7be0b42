// The example blog page (examples/blog.html) under the strict CSP of scripts/static-server.mjs: the widgets
// render, work independently, follow attribute changes, free their resources when removed, and show user text
// as text only.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startServer } from '../../scripts/static-server.mjs';
import { ARTIFACTS, launchBrowser, ROOT, screenshot, skipReason } from './helpers.mjs';

const skip = skipReason({ browser: true });
let server;
let browser;
let page;
let consoleErrors;
let requests;
let origin;

const tokensOf = (id) => page.evaluate((id) => document.getElementById(id).tokens.map((t) => t.text), id);
const settled = (id) => page.evaluate((id) => document.getElementById(id).updateComplete.then(() => document.getElementById(id).state), id);
const resources = () => page.evaluate(() => import('/lib/index.js').then((m) => m.resourceCount()));

before(async () => {
  if (skip) return;
  ({ server, url: origin } = await startServer(ROOT)); // serves the repository: /examples/ and /lib/
  ({ browser, page, consoleErrors, requests } = await launchBrowser());
  await page.goto(`${origin}examples/blog.html`);
  await page.waitForFunction(
    () => [...document.querySelectorAll('token-view')].every((view) => view.state === 'ready' || view.state === 'error'),
    null,
    { timeout: 60_000 },
  );
});

after(async () => {
  await browser?.close();
  if (server) await new Promise((done) => server.close(done));
});

test('the widgets render under the strict CSP, with no requests beyond the page and no console errors', { skip }, async () => {
  for (const id of ['char-view', 'bpe-view', 'math-view']) assert.equal(await settled(id), 'ready', `#${id} is ready`);
  const chars = await tokensOf('char-view');
  const bpe = await tokensOf('bpe-view');
  const sentence = 'Once upon a time, Mia walked to the river because she wanted to see the boats.';
  assert.equal(chars.length, [...sentence].length, 'one character token per character');
  assert.ok(bpe.length < chars.length / 2, `BPE uses far fewer tokens (${bpe.length} vs ${chars.length})`);
  assert.equal(bpe.join('').replaceAll('␣', ' '), sentence, 'the BPE tokens spell the text');
  const spans = await page.evaluate(() => document.getElementById('bpe-view').shadowRoot.querySelectorAll('.tok').length);
  assert.equal(spans, bpe.length, 'one colored span per token');
  // Theming: the dark view takes --tp-bg from the page's CSS.
  const bg = await page.evaluate(() => getComputedStyle(document.getElementById('math-view')).backgroundColor);
  assert.equal(bg, 'rgb(29, 31, 36)');
  await screenshot(page, 'blog');
  assert.deepEqual(consoleErrors, [], 'no console errors (a CSP violation would show here)');
  assert.deepEqual(requests.filter((r) => !r.startsWith(origin)), [], 'no requests leave the page origin');
});

test('two widgets work independently: changing one leaves the other as it was', { skip }, async () => {
  const charBefore = await tokensOf('char-view');
  const mathBefore = await tokensOf('math-view');
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('text', 'the dog ran'));
  assert.equal(await settled('bpe-view'), 'ready');
  assert.equal((await tokensOf('bpe-view')).join('').replaceAll('␣', ' '), 'the dog ran');
  assert.deepEqual(await tokensOf('char-view'), charBefore);
  assert.deepEqual(await tokensOf('math-view'), mathBefore);
});

test('attributes changed at runtime take effect (text, tokenizer, corpus), also through the page form', { skip }, async () => {
  // The page's form sets the `text` attribute of both views.
  await page.fill('#try-text', 'The cat sat.');
  assert.equal(await settled('char-view'), 'ready');
  assert.equal(await settled('bpe-view'), 'ready');
  assert.deepEqual(await tokensOf('char-view'), ['T', 'h', 'e', '␣', 'c', 'a', 't', '␣', 's', 'a', 't', '.']);
  // The tokenizer attribute: char -> BPE retrains, and a `trained` event reports the new vocabulary.
  const trained = page.evaluate(
    () => new Promise((done) => document.getElementById('char-view').addEventListener('trained', (e) => done(e.detail), { once: true })),
  );
  await page.evaluate(() => document.getElementById('char-view').setAttribute('tokenizer', 'bpe:300'));
  assert.deepEqual(await trained, { kind: 'bpe', vocabSize: 300 });
  assert.equal(await settled('char-view'), 'ready');
  assert.equal(await page.evaluate(() => document.getElementById('char-view').activeTokenizer.vocabSize), 300);
  // The select element of the page drives the second view's tokenizer.
  await page.selectOption('#try-tokenizer', 'char');
  assert.equal(await settled('bpe-view'), 'ready');
  assert.equal(await page.evaluate(() => document.getElementById('bpe-view').activeTokenizer.kind), 'char');
  // A bad attribute value shows a readable error in the widget and emits `error`, and a good one recovers.
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('tokenizer', 'wordpiece'));
  assert.equal(await settled('bpe-view'), 'error');
  const shown = await page.evaluate(() => document.getElementById('bpe-view').shadowRoot.querySelector('.error').textContent);
  assert.match(shown, /the tokenizer attribute must be 'char' or 'bpe:<vocab size>'/);
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('tokenizer', 'bpe:512'));
  assert.equal(await settled('bpe-view'), 'ready');
  // The corpus: the same text cut by a BPE trained on stories, then on the addition task.
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('text', 'add 47+385 = 432'));
  assert.equal(await settled('bpe-view'), 'ready');
  const onStories = await tokensOf('bpe-view');
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('corpus', 'addition'));
  assert.equal(await settled('bpe-view'), 'ready');
  const onAddition = await tokensOf('bpe-view');
  assert.ok(onAddition.length < onStories.length, `trained on additions it needs fewer tokens (${onAddition.length} vs ${onStories.length})`);
  assert.match(await page.evaluate(() => document.getElementById('bpe-view').shadowRoot.querySelector('.meta').textContent), /trained on 'addition'/);
});

test('tokenizer-src loads a saved tokenizer.json, and a missing one is a readable error', { skip }, async () => {
  const { generateCorpus, trainTokenizer } = await import('../../lib/index.js');
  const saved = await trainTokenizer(await generateCorpus('copy', { bytes: 8000 }), { vocabSize: 280 });
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'tokenizer.json'), saved.save());
  const expected = saved.tokenize('copy abc7d > abc7d').map((t) => t.text);
  saved.dispose();
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('text', 'copy abc7d > abc7d'));
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('tokenizer-src', '/test-artifacts/package/tokenizer.json'));
  assert.equal(await settled('bpe-view'), 'ready');
  assert.deepEqual(await tokensOf('bpe-view'), expected, 'the page cuts the text exactly like the saved tokenizer');
  await page.evaluate(() => document.getElementById('bpe-view').setAttribute('tokenizer-src', '/test-artifacts/package/missing.json'));
  assert.equal(await settled('bpe-view'), 'error');
  assert.match(await page.evaluate(() => document.getElementById('bpe-view').lastError.message), /could not load the tokenizer from .*missing.json: HTTP 404/);
  // The only console error so far is the browser's own line about that 404.
  assert.deepEqual(consoleErrors, ['Failed to load resource: the server responded with a status of 404 (Not Found)']);
  consoleErrors.length = 0;
  await page.evaluate(() => document.getElementById('bpe-view').removeAttribute('tokenizer-src'));
  assert.equal(await settled('bpe-view'), 'ready');
});

test('user text is rendered as text: markup and scripts in it never become elements', { skip }, async () => {
  const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>';
  await page.evaluate((text) => document.getElementById('bpe-view').setAttribute('text', text), hostile);
  assert.equal(await settled('bpe-view'), 'ready');
  const found = await page.evaluate(() => {
    const root = document.getElementById('bpe-view').shadowRoot;
    return {
      injected: root.querySelectorAll('img, script, b').length,
      pwned: window.__pwned ?? null,
      text: [...root.querySelectorAll('.tok')].map((span) => span.textContent).join(''),
    };
  });
  assert.equal(found.injected, 0);
  assert.equal(found.pwned, null);
  assert.equal(found.text.replaceAll('␣', ' '), hostile);
});

test('a widget removed from the page frees its tokenizer; put back, it trains a new one', { skip }, async () => {
  const before = await resources();
  const removed = await page.evaluate(() => {
    const view = document.getElementById('math-view');
    const parent = view.parentElement;
    view.remove();
    window.__removedView = { view, parent };
    return { state: view.state, tokenizer: view.activeTokenizer, children: view.shadowRoot.childNodes.length };
  });
  assert.deepEqual(removed, { state: 'idle', tokenizer: null, children: 0 });
  assert.equal((await resources()).tokenizer, before.tokenizer - 1);
  await page.evaluate(() => window.__removedView.parent.prepend(window.__removedView.view));
  assert.equal(await settled('math-view'), 'ready');
  assert.equal((await resources()).tokenizer, before.tokenizer);
  // Removed while its BPE is training (from a progress event, mid-way), it cancels training and keeps nothing.
  const midway = await page.evaluate(async () => {
    const view = document.getElementById('math-view');
    let removedAt = null;
    view.addEventListener('progress', (event) => {
      if (event.detail.done === 20 && removedAt === null) {
        removedAt = event.detail.done;
        view.remove();
      }
    });
    view.setAttribute('tokenizer', 'bpe:600');
    const errors = [];
    view.addEventListener('error', (event) => errors.push(event.detail.message));
    await view.updateComplete;
    await new Promise((done) => setTimeout(done, 100));
    return { removedAt, state: view.state, tokenizer: view.activeTokenizer, errors };
  });
  assert.deepEqual(midway, { removedAt: 20, state: 'idle', tokenizer: null, errors: [] });
  assert.equal((await resources()).tokenizer, before.tokenizer - 1);
});

const waitSettled = (ids) =>
  page.waitForFunction((ids) => ids.every((id) => ['ready', 'error'].includes(document.getElementById(id).state)), ids, { timeout: 120_000 });

test('two attention maps train their own models and redraw for a new layer, head or text', { skip }, async (t) => {
  await waitSettled(['attention-copy', 'attention-reverse']);
  for (const id of ['attention-copy', 'attention-reverse']) assert.equal(await settled(id), 'ready', `#${id} is ready`);
  const grid = (id) =>
    page.evaluate((id) => {
      const view = document.getElementById(id);
      const maps = view.maps;
      const head = maps.head(view.layer, view.head);
      const rows = [];
      for (let q = 0; q < maps.t; q++) rows.push(head.subarray(q * maps.t, (q + 1) * maps.t).reduce((a, b) => a + b, 0));
      let future = 0;
      for (let q = 0; q < maps.t; q++) for (let k = q + 1; k < maps.t; k++) future += head[q * maps.t + k];
      return { t: maps.t, nLayer: maps.nLayer, nHead: maps.nHead, rows, future, tokens: maps.tokens.map((x) => x.text).join(''), png: view.shadowRoot.querySelector('canvas').toDataURL() };
    }, id);
  const copy = await grid('attention-copy');
  assert.equal(copy.t, 18);
  assert.equal(copy.tokens.replaceAll('␣', ' '), 'copy abc7d > abc7d');
  assert.ok(copy.rows.every((r) => Math.abs(r - 1) < 1e-4), 'every row of attention sums to 1');
  assert.equal(copy.future, 0, 'causal: no token attends to a later one');
  const models = await page.evaluate(() => {
    const [a, b] = ['attention-copy', 'attention-reverse'].map((id) => document.getElementById(id).model);
    return { different: a !== b, params: [a.paramCount, b.paramCount], steps: [a.stepCount, b.stepCount] };
  });
  assert.deepEqual(models, { different: true, params: [models.params[0], models.params[0]], steps: [150, 150] });

  // The head attribute (also what the widget's own select sets): a new picture, no retraining.
  let trainedEvents = await page.evaluate(() => {
    window.__trained = 0;
    document.getElementById('attention-copy').addEventListener('trained', () => window.__trained++);
    document.getElementById('attention-copy').setAttribute('head', '1');
    return document.getElementById('attention-copy').updateComplete.then(() => window.__trained);
  });
  const head1 = await grid('attention-copy');
  assert.notEqual(head1.png, copy.png, 'head 1 looks different from head 0');
  assert.equal(await page.evaluate(() => document.getElementById('attention-copy').shadowRoot.querySelector('select[name=head]').value), '1');
  await page.selectOption('#attention-copy >> select[name=layer]', '0');
  assert.equal(await page.getAttribute('#attention-copy', 'layer'), '0', 'the select writes the attribute');
  // The text: the same model looks at a new line.
  await page.evaluate(() => document.getElementById('attention-copy').setAttribute('text', 'copy xy9 > xy9'));
  assert.equal(await settled('attention-copy'), 'ready');
  assert.equal((await grid('attention-copy')).t, 14);
  trainedEvents = await page.evaluate(() => window.__trained);
  assert.equal(trainedEvents, 0, 'changing head, layer or text does not retrain');
  assert.equal((await grid('attention-reverse')).png, (await grid('attention-reverse')).png);
  // Sized by its container: a narrower column redraws a narrower grid, without retraining.
  const widths = await page.evaluate(async () => {
    const view = document.getElementById('attention-reverse');
    const canvas = () => view.shadowRoot.querySelector('canvas').getBoundingClientRect().width;
    const wide = canvas();
    view.parentElement.style.setProperty('width', '260px');
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    const narrow = canvas();
    view.parentElement.style.removeProperty('width');
    return { wide, narrow, host: view.getBoundingClientRect().width };
  });
  assert.ok(widths.wide > 400, `the grid fills the column (${widths.wide}px)`);
  assert.ok(widths.narrow <= 260 && widths.narrow > 150, `and shrinks with it (${widths.narrow}px)`);
  // steps: a new model is trained, and the old one is freed.
  const before = await resources();
  await page.evaluate(() => document.getElementById('attention-copy').setAttribute('steps', '20'));
  assert.equal(await settled('attention-copy'), 'ready');
  assert.equal(await page.evaluate(() => window.__trained), 1);
  assert.equal(await page.evaluate(() => document.getElementById('attention-copy').model.stepCount), 20);
  assert.deepEqual(await resources(), before, 'the replaced model and tokenizer were freed');
  // A bad config is a readable error.
  await page.evaluate(() => document.getElementById('attention-reverse').setAttribute('config', '{"nHead": 3, "nEmbd": 32}'));
  assert.equal(await settled('attention-reverse'), 'error');
  assert.match(await page.evaluate(() => document.getElementById('attention-reverse').lastError.message), /could not create the model: .*head/);
  await page.evaluate(() => document.getElementById('attention-reverse').setAttribute('config', '{nope'));
  assert.equal(await settled('attention-reverse'), 'error');
  assert.match(await page.evaluate(() => document.getElementById('attention-reverse').lastError.message), /the config attribute is not valid JSON/);
  assert.deepEqual(await resources(), { ...before, model: before.model - 1, tokenizer: before.tokenizer - 1 }, 'a failed build keeps nothing');
});

test('the playground trains with progress, pauses and resumes, generates text as text, and frees itself when removed', { skip }, async (t) => {
  assert.equal(await settled('playground'), 'ready');
  const run = await page.evaluate(async () => {
    const view = document.getElementById('playground');
    const losses = [];
    view.addEventListener('progress', (e) => losses.push(e.detail.loss));
    let pausedAt = null;
    let stepsWhilePaused = null;
    view.addEventListener('progress', (e) => {
      if (e.detail.done === 30 && pausedAt === null) {
        view.pause();
        pausedAt = view.model.stepCount;
        setTimeout(() => {
          stepsWhilePaused = view.model.stepCount - pausedAt;
          view.resume();
        }, 300);
      }
    });
    const trained = new Promise((done) => view.addEventListener('trained', (e) => done(e.detail), { once: true }));
    view.shadowRoot.querySelector('button').click(); // Train
    const result = await trained;
    return { steps: result.steps, first: losses[0], last: losses[losses.length - 1], count: losses.length, pausedAt, stepsWhilePaused, stepCount: view.model.stepCount };
  });
  assert.equal(run.steps, 100);
  assert.equal(run.count, 100);
  assert.equal(run.stepCount, 100);
  assert.equal(run.pausedAt, 30);
  assert.equal(run.stepsWhilePaused, 0, 'no steps while paused');
  assert.ok(run.last < run.first - 0.5, `the loss falls (${run.first} -> ${run.last})`);

  const hostile = '<img src=x onerror="window.__pwned=3"><script>window.__pwned=4</script>';
  const generated = await page.evaluate(async (prompt) => {
    const view = document.getElementById('playground');
    view.shadowRoot.querySelector('.prompt input').value = prompt;
    const text = await view.generate();
    const root = view.shadowRoot;
    return { text, shown: root.querySelector('.output').textContent, injected: root.querySelectorAll('img, script').length, pwned: window.__pwned ?? null };
  }, hostile);
  assert.ok(generated.text.length > 50, `it writes text (${JSON.stringify(generated.text.slice(0, 60))})`);
  assert.equal(generated.shown, generated.text);
  assert.equal(generated.injected, 0);
  assert.equal(generated.pwned, null);

  // Removed while training: training stops, model and tokenizer are freed, nothing throws.
  const before = await resources();
  const removed = await page.evaluate(async () => {
    const view = document.getElementById('playground');
    const errors = [];
    view.addEventListener('error', (e) => errors.push(e.detail.message));
    const training = view.train().catch((e) => e.name);
    await new Promise((done) => view.addEventListener('progress', done, { once: true }));
    view.remove();
    return { outcome: await training, errors, model: view.model };
  });
  assert.deepEqual(removed, { outcome: 'AbortError', errors: [], model: null });
  await page.waitForTimeout(100);
  assert.deepEqual(await resources(), { ...before, model: before.model - 1, tokenizer: before.tokenizer - 1 });
  assert.deepEqual(consoleErrors, [], 'no console errors (CSP violations included)');
});

test('an attention map with backend="webgpu" trains on WebGPU and frees its device when removed', { skip }, async (t) => {
  const before = await resources();
  const found = await page.evaluate(async () => {
    const view = document.createElement('attention-map');
    view.id = 'attention-gpu';
    view.setAttribute('backend', 'webgpu');
    view.setAttribute('corpus', 'copy');
    view.setAttribute('steps', '10');
    view.setAttribute('text', 'copy ab > ab');
    document.querySelector('article').append(view);
    await new Promise((done) => view.addEventListener('trained', done, { once: true }));
    await view.updateComplete;
    const maps = view.maps;
    return { state: view.state, backend: view.model.backend, steps: view.model.stepCount, t: maps.t };
  });
  assert.deepEqual(found, { state: 'ready', backend: 'webgpu', steps: 10, t: 12 });
  assert.equal((await resources()).gpu, before.gpu + 1, 'the model holds one GPU device');
  await page.evaluate(() => document.getElementById('attention-gpu').remove());
  await page.waitForTimeout(100);
  assert.deepEqual(await resources(), before, 'removed: its model, tokenizer and device are freed');
  assert.deepEqual(consoleErrors, []);
});

test('an attention map with a seq2seq task shows the cross-attention: target rows x source columns', { skip }, async (t) => {
  if (!(await page.evaluate(() => import('/lib/index.js').then((m) => m.seq2seqAvailable())))) {
    console.error('\n!!! SKIPPED: the wasm core was built without the encoder-decoder (SEQ2SEQ=1 bash scripts/build.sh)\n');
    t.skip('the wasm core was built without the encoder-decoder');
    return;
  }
  const before = await resources();
  const found = await page.evaluate(async () => {
    const view = document.createElement('attention-map');
    view.id = 'attention-cross';
    view.setAttribute('task', 'reverse');
    view.setAttribute('config', '{"nLayer": 1, "nHead": 2, "nEmbd": 16}');
    view.setAttribute('steps', '5');
    view.setAttribute('text', 'abcd');
    view.setAttribute('target', 'dcba');
    document.querySelector('article').append(view);
    await new Promise((done) => view.addEventListener('trained', done, { once: true }));
    await view.updateComplete;
    const maps = view.seq2seqMaps;
    const label = () => view.shadowRoot.querySelector('canvas').getAttribute('aria-label');
    const cross = { label: label(), rows: maps.outputTokens, cols: maps.sourceTokens, cells: maps.crossHead(0, 1).length };
    view.setAttribute('kind', 'encoder');
    await view.updateComplete;
    const encoder = label();
    view.setAttribute('kind', 'decoder');
    await view.updateComplete;
    return { state: view.state, steps: view.seq2seqModel.stepCount, cross, encoder, decoder: label() };
  });
  assert.deepEqual(found, {
    state: 'ready',
    steps: 5,
    cross: { label: 'cross-attention of layer 0, head 0: 5 by 5', rows: ['d', 'c', 'b', 'a', '<eos>'], cols: ['a', 'b', 'c', 'd', '<pad>'], cells: 25 },
    encoder: 'encoder self-attention of layer 0, head 0: 4 by 5',
    decoder: 'decoder self-attention of layer 0, head 0: 5 by 5',
  });
  assert.equal((await resources()).model, before.model + 1);
  await page.evaluate(() => document.getElementById('attention-cross').remove());
  await page.waitForTimeout(100);
  assert.deepEqual(await resources(), before, 'removed: its encoder-decoder is freed');
  assert.deepEqual(consoleErrors, []);
});
