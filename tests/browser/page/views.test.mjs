// The pictures of a trained model, readable at any size: the attention thumbnails carry no labels that
// overflow them (the enlarged copy has one label per row and column, each over its own cell), the Attention
// panel stops calling its numbers made up once there is a model, and the embeddings map has hover (token, id,
// count), zoom and pan (wheel, keys), search, labels that never overlap and a filter for tokens the corpus
// never uses. Then the same panels at phone width (390 px) and in dark mode: nothing clipped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEXT, openPanel, openPlayground, screenshot, setUpTinyModel, skipReason, waitReady } from '../harness.mjs';

/** A tiny model with a byte-level BPE (most of its 256 byte tokens never occur in TEXT), trained a few steps. */
async function tinyBpeModel(page) {
  await setUpTinyModel(page, TEXT, { bpe: { vocab: 300, pattern: 'gpt2' } });
  await page.fill('#m-layers', '2');
  await openPanel(page, 'training');
  for (const [id, v] of Object.entries({ '#t-steps': 4, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 1, '#t-batch': 2, '#t-accum': 1, '#t-eval': 4, '#t-seed': 1 })) await page.fill(id, String(v));
  await page.click('#train-start');
  await page.waitForFunction(() => window.tpTraining?.state === 'done' && window.tp.store.modelInfo, null, { timeout: 120_000 });
}

/** Boxes of the elements matching `selector` (left, right, top, bottom, width, height). */
function boxes(page, selector) {
  return page.$$eval(selector, (list) => list.map((e) => JSON.parse(JSON.stringify(e.getBoundingClientRect()))));
}

async function attentionChecks(page) {
  await openPanel(page, 'attention');
  // With a model, the worked example no longer says the model's numbers are yet to come.
  const source = await page.textContent('#attention-source');
  assert.doesNotMatch(source, /With a trained model/);
  assert.match(source, /Your model’s own numbers.* are in “Your model’s attention” above/);
  assert.equal(await page.isVisible('#att-no-model'), false);
  await page.fill('#att-text', 'abcabd a b c d e. abcabe abcab');
  await page.click('#att-run');
  await page.waitForSelector('#att-model-steps');
  const { nLayer, nHead, t, tokens } = await page.evaluate(() => window.tpModelAttention);
  assert.equal(await page.$$eval('#att-grid canvas.heatmap', (l) => l.length), nLayer * nHead);
  // Thumbnails: no tick labels, and nothing in a thumbnail's figure reaches past its map.
  assert.equal(await page.$$eval('#att-grid .ticks', (l) => l.length), 0, 'no labels squeezed under the thumbnails');
  for (let l = 0; l < nLayer; l++)
    for (let hd = 0; hd < nHead; hd++) {
      const [figure] = await boxes(page, `#att-l${l}-h${hd}`);
      const [canvas] = await boxes(page, `#att-l${l}-h${hd} canvas`);
      assert.ok(figure.right <= canvas.right + 1, `layer ${l} head ${hd}: the figure ends at ${figure.right}, its map at ${canvas.right}`);
    }
  // The enlarged copy: a label per token, each over (or beside) its own cell, large enough to read.
  await page.click('#att-l1-h0 canvas');
  await page.waitForSelector('dialog#enlarged[open] .ticks-x');
  await page.waitForFunction(() => document.querySelector('dialog#enlarged .ticks-x')?.dataset.cell);
  const [big] = await boxes(page, 'dialog#enlarged canvas');
  for (const [axis, start, size, end] of [['x', 'left', 'width', 'right'], ['y', 'top', 'height', 'bottom']]) {
    const labels = await page.$$eval(`dialog#enlarged .ticks-${axis} span`, (l) =>
      l.map((e) => ({ text: e.textContent, font: parseFloat(getComputedStyle(e).fontSize), box: JSON.parse(JSON.stringify(e.getBoundingClientRect())) })),
    );
    assert.deepEqual(labels.map((x) => x.text), tokens, `${axis}: one label per token, in order`);
    const cell = big[size] / t;
    labels.forEach(({ box, font }, i) => {
      const centre = box[start] + box[size] / 2;
      const cellCentre = big[start] + (i + 0.5) * cell;
      assert.ok(Math.abs(centre - cellCentre) <= cell / 2, `${axis} label ${i} centred at ${centre}, its cell at ${cellCentre}`);
      assert.ok(box[start] >= big[start] - 1 && box[end] <= big[end] + 1, `${axis} label ${i} stays within the map`);
      assert.ok(font >= 7, `${axis} label ${i} is ${font}px`);
    });
  }
  await screenshot(page, 'attention-enlarged-model');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog#enlarged', { state: 'detached' });
}

async function embeddingsChecks(page) {
  await openPanel(page, 'embeddings');
  await page.waitForFunction(() => window.tpEmbeddings?.draws > 0);
  let view = await page.evaluate(() => window.tpEmbeddings);
  // Only the tokens the corpus uses; the unused byte tokens are counted and left out. (The short text holds
  // fewer pairs than 300 tokens need: BPE stops early, which the Tokenizer panel says.)
  const vocab = await page.evaluate(() => window.tp.store.tokenizer.summary.vocabSize);
  assert.equal(view.vocab, vocab);
  assert.ok(view.hiddenUnused > 200, `${view.hiddenUnused} unused tokens left out`);
  assert.equal(view.ids.length + view.hiddenUnused, vocab);
  assert.ok(view.counts.every((c) => c > 0), 'every token on the map occurs in the corpus');
  assert.match(await page.textContent('#embeddings-note'), /never used by the corpus are left out/);
  // All of them, on request: then the labels cannot all fit, and the ones drawn do not overlap.
  await page.check('#emb-unused');
  await page.waitForFunction((n) => window.tpEmbeddings.ids.length === n, vocab);
  const placed = await page.evaluate(() => window.tpEmbeddingsMap.placed);
  assert.ok(placed.length > 5 && placed.length < vocab, `${placed.length} labels drawn for ${vocab} points`);
  for (let i = 0; i < placed.length; i++)
    for (let j = i + 1; j < placed.length; j++) {
      const [a, b] = [placed[i], placed[j]];
      assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `labels “${a.text}” and “${b.text}” overlap`);
    }
  assert.match(await page.textContent('#embeddings-note'), /zoom in to see more/);
  await page.uncheck('#emb-unused');
  await page.waitForFunction((n) => window.tpEmbeddings.ids.length < n, vocab);
  view = await page.evaluate(() => window.tpEmbeddings);

  // Hover a point: its token, id and count in the corpus.
  const [canvas] = await boxes(page, '#embeddings-scatter');
  const pick = async (i) => {
    const [x, y] = await page.evaluate((k) => window.tpEmbeddingsMap.screen[k], i);
    await page.mouse.move(canvas.left + x, canvas.top + y);
    return page.evaluate(() => window.tpEmbeddingsMap.hovered);
  };
  const target = view.counts.indexOf(Math.max(...view.counts));
  const hovered = await pick(target);
  assert.ok(hovered >= 0, 'a point under the pointer');
  const readout = await page.textContent('#embeddings-scatter-readout');
  const count = view.counts[hovered];
  assert.equal(readout, `“${view.labels[hovered]}” · id ${view.ids[hovered]} · ${count === 1 ? 'once' : `${count.toLocaleString('en-US')} times`} in the corpus`);

  // Zoom with the wheel (about the pointer) and the keyboard; 0 resets.
  const zoom = () => page.evaluate(() => window.tpEmbeddingsMap.view.zoom);
  const labelsAt1 = (await page.evaluate(() => window.tpEmbeddingsMap.placed)).length;
  const [x0, y0] = await page.evaluate((k) => window.tpEmbeddingsMap.screen[k], hovered);
  await page.mouse.wheel(0, -400);
  await page.waitForFunction(() => window.tpEmbeddingsMap.view.zoom > 1);
  const [x1, y1] = await page.evaluate((k) => window.tpEmbeddingsMap.screen[k], hovered);
  assert.ok(Math.hypot(x1 - x0, y1 - y0) < 12, `the wheel zooms about the pointer: the point moved from ${[x0, y0]} to ${[x1, y1]}`);
  await page.focus('#embeddings-scatter');
  const z = await zoom();
  await page.keyboard.press('+');
  assert.ok((await zoom()) > z, 'the + key zooms in');
  await page.keyboard.press('ArrowLeft');
  assert.ok((await page.evaluate(() => window.tpEmbeddingsMap.view.panX)) > 0, 'an arrow key moves the map');
  await page.keyboard.press('0');
  assert.deepEqual(await page.evaluate(() => window.tpEmbeddingsMap.view), { zoom: 1, panX: 0, panY: 0 });
  assert.equal((await page.evaluate(() => window.tpEmbeddingsMap.placed)).length, labelsAt1);
  // A pinch: two fingers moving apart zoom in about their midpoint.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 2 });
  const [cx, cy] = [canvas.left + canvas.width / 2, canvas.top + canvas.height / 2];
  const fingers = (d) => [{ x: cx - d, y: cy, id: 1 }, { x: cx + d, y: cy, id: 2 }];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: fingers(20) });
  for (const d of [30, 45, 60]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: fingers(d) });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  const pinched = await zoom();
  assert.ok(pinched > 2 && pinched < 4, `a pinch from 40 to 120 px apart zooms about 3x: ${pinched}`);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: false });
  await cdp.detach();
  await page.focus('#embeddings-scatter');
  await page.keyboard.press('0');

  // Search: a token is highlighted and, with Enter, zoomed to and described.
  const wanted = view.labels.find((l) => l.length >= 2 && !l.includes('␣')) ?? view.labels[0];
  const index = view.labels.indexOf(wanted);
  await page.fill('#emb-search', wanted);
  await page.waitForFunction((i) => window.tpEmbeddingsMap.highlighted.has(i), index);
  assert.match(await page.textContent('#emb-search-note'), new RegExp(`match “${wanted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}”`));
  await page.press('#emb-search', 'Enter');
  assert.ok((await zoom()) >= 4);
  assert.match(await page.textContent('#embeddings-scatter-readout'), new RegExp(`id ${view.ids[index]} `));
  assert.ok((await page.evaluate((i) => window.tpEmbeddingsMap.placed.some((p) => p.index === i), index)), 'the found token is labelled');
  await page.fill('#emb-search', 'qqq');
  assert.match(await page.textContent('#emb-search-note'), /No token on the map contains “qqq” \(tokens the corpus never uses are hidden/);
  await page.fill('#emb-search', '');
  await page.focus('#embeddings-scatter');
  await page.keyboard.press('0');
}

/** Nothing in the panel runs past the viewport or hides a part of itself behind a scroll bar. */
async function nothingClipped(page, panel) {
  await openPanel(page, panel);
  const problems = await page.evaluate((id) => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const e of document.querySelectorAll(`#panel-${id} .formula, #panel-${id} canvas, #panel-${id} figure`)) {
      const box = e.getBoundingClientRect();
      if (box.width === 0) continue;
      if (box.right > width + 0.5) out.push(`${e.tagName}.${e.className} ends at ${box.right} of ${width}`);
      if (e.classList.contains('formula') && e.scrollWidth > e.clientWidth) out.push(`a formula box scrolls: ${e.textContent}`);
    }
    return out;
  }, panel);
  assert.deepEqual(problems, [], `${panel} at ${await page.evaluate(() => document.documentElement.clientWidth)} px`);
}

test('attention thumbnails, the enlarged map and the embeddings map are readable; nothing clipped at 390 px or in dark mode', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // Before a model, the Attention panel says how to get one.
    await openPanel(page, 'attention');
    assert.equal(await page.isVisible('#att-no-model'), true);
    assert.equal(await page.isDisabled('#att-run'), true);
    assert.match(await page.textContent('#attention-source'), /Train a model/);
    await tinyBpeModel(page);
    await attentionChecks(page);
    await screenshot(page, 'panel-attention-model-thumbs');
    await embeddingsChecks(page);
    await screenshot(page, 'panel-embeddings-map');

    // Phone width, light then dark.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await openPanel(page, 'attention');
      await page.click('#att-run');
      await page.waitForSelector('#att-grid canvas');
      for (const panel of ['tokenizer', 'attention', 'positions', 'embeddings']) {
        await nothingClipped(page, panel);
        await screenshot(page, `phone-${scheme}-${panel}`);
      }
    }
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
