// The Tokenizer panel: BPE training in the worker with live merges, colored tokens with ids and bytes, the
// character tokenizer, refusals that keep the previous tokenizer, and the tokenizer surviving a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

/** The page's display form of a text: ␣ for a space, \n for a newline (as in www/src/tokens.ts). */
function display(text) {
  return text.replaceAll(' ', '␣').replaceAll('\n', '\\n');
}

async function useText(page, text) {
  await openPanel(page, 'data');
  await page.fill('#user-text', text);
  await page.click('#use-text');
  await page.waitForFunction((t) => window.tp.store.corpus?.text === t, text);
}

async function train(page, { kind, vocab, pattern }) {
  await openPanel(page, 'tokenizer');
  await page.selectOption('#tok-kind', kind);
  if (kind === 'bpe') {
    await page.fill('#tok-vocab', String(vocab));
    await page.selectOption('#tok-pattern', pattern);
  }
  const before = await page.evaluate(() => window.tp.store.tokenizer);
  await page.click('#train-tokenizer');
  await page.waitForFunction(() => !document.querySelector('#train-tokenizer').disabled);
  return before;
}

const WORDS = 'the cat sat on mat dog log ran to hat and then a big red little house tree bird sings sun moon river stone'.split(' ');
let state = 7;
const CORPUS = Array.from({ length: 3000 }, (_, i) => {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  return WORDS[Math.floor(state / 65536) % WORDS.length] + (i % 12 === 11 ? '.\n' : ' ');
}).join('');

test('BPE trains in the worker with live merges and shows the text as tokens; reload brings it back', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await useText(page, CORPUS);
    // Watch the progress bar move while training (the page stays responsive to evaluate calls).
    await page.evaluate(() => {
      window.progressSeen = [];
      new MutationObserver(() => window.progressSeen.push(Number(document.querySelector('#tok-progress').value))).observe(
        document.querySelector('#tok-progress'),
        { attributes: true },
      );
    });
    await train(page, { kind: 'bpe', vocab: 320, pattern: 'gpt2' });
    assert.match(await page.textContent('#tok-message'), /Trained/);
    assert.equal(await page.getAttribute('#vocab-size', 'data-value'), '320');
    const merges = await page.$$eval('#merges li', (l) => l.map((li) => li.textContent));
    assert.ok(merges.length >= 20, `merges listed: ${merges.length}`);
    assert.ok(merges.some((m) => /h \+ e → he|o \+ n → on|a \+ n → an/.test(m)), `a frequent merge of this corpus is listed: ${merges.slice(-5)}`);
    const seen = await page.evaluate(() => window.progressSeen);
    assert.ok(seen.length >= 1, 'the progress bar moved');
    const tpc = Number(await page.getAttribute('#tokens-per-char', 'data-value'));
    assert.ok(tpc > 0 && tpc < 0.6, `BPE on a repetitive text compresses well: ${tpc} tokens per character`);

    // The sample view: colored tokens whose display strings spell the text, with ids and bytes on focus.
    const tokens = await page.evaluate(() => window.tpTokens);
    assert.ok(tokens.ids.length > 10);
    assert.equal(tokens.strings.join(''), display(CORPUS.slice(0, 600)));
    assert.ok(tokens.strings.some((s) => s.length > 2), 'some tokens are merged words');
    assert.equal(await page.$$eval('#token-view .tok', (l) => l.length), tokens.ids.length);
    assert.equal(await page.$$eval('#token-view .tok[tabindex="0"]', (l) => l.length), 1, 'one tab stop for all the tokens');
    await page.focus('#token-view .tok:nth-child(1)');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.id), String(tokens.ids[1]), 'the arrow key moves to the next token');
    const tip = await page.textContent('#tooltip');
    assert.match(tip, new RegExp(`id ${tokens.ids[1]} · bytes [0-9a-f ]+`));
    await screenshot(page, 'panel-tokenizer');

    // Markup typed as the sample stays text.
    await page.fill('#tok-sample', '<img src=x onerror="window.pwned=1"><b>hi</b>');
    await page.waitForFunction(() => window.tpTokens.strings.join('').startsWith('<img'));
    assert.equal(await page.$$eval('#panel-tokenizer img, #panel-tokenizer b', (l) => l.length), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);

    // A vocabulary below 257 is refused; the trained tokenizer stays.
    await train(page, { kind: 'bpe', vocab: 100, pattern: 'gpt2' });
    assert.match(await page.textContent('#tok-message'), /257/);
    assert.equal(await page.getAttribute('#tok-message', 'data-kind'), 'error');
    assert.equal(await page.evaluate(() => window.tp.store.tokenizer.summary.vocabSize), 320);

    // A malformed tokenizer.json is refused with the core's reason; the trained tokenizer stays.
    await page.setInputFiles('#load-tokenizer', { name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"model": {"type": "BPE", "vocab": 5') });
    await page.waitForFunction(() => document.querySelector('#tok-message').textContent.includes('broken.json'));
    assert.match(await page.textContent('#tok-message'), /did not load: .+unchanged/);
    assert.equal(await page.evaluate(() => window.tp.store.tokenizer.summary.vocabSize), 320);

    // Reload: the corpus and the tokenizer come back from IndexedDB.
    const idsBefore = tokens.ids;
    await page.reload();
    await waitReady(page);
    assert.equal(await page.evaluate(() => window.tp.store.corpus.text.length), CORPUS.length);
    assert.equal(await page.evaluate(() => window.tp.store.tokenizer?.summary.vocabSize), 320);
    await openPanel(page, 'tokenizer');
    await page.waitForFunction(() => window.tpTokens?.ids.length > 0);
    assert.deepEqual(await page.evaluate(() => window.tpTokens.ids), idsBefore, 'the restored tokenizer cuts the text the same way');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('the character tokenizer gives one token per character', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    const text = 'héllo wörld ✓\n'.repeat(30);
    await useText(page, text);
    await train(page, { kind: 'char' });
    assert.equal(Number(await page.getAttribute('#tokens-per-char', 'data-value')), 1);
    const vocab = Number(await page.getAttribute('#vocab-size', 'data-value'));
    assert.ok(vocab >= new Set(text).size, `vocabulary ${vocab} covers the ${new Set(text).size} distinct characters`);
    const tokens = await page.evaluate(() => window.tpTokens);
    assert.equal(tokens.ids.length, [...text].length);
    assert.equal(tokens.strings[1], 'é');
    assert.equal(tokens.bytes[1], 'c3 a9', 'the hover shows the UTF-8 bytes');
    await screenshot(page, 'panel-tokenizer-char');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('a long BPE training can be cancelled; the previous tokenizer stays and still works', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    await useText(page, CORPUS);
    await train(page, { kind: 'char' });
    const before = await page.evaluate(() => ({ vocab: window.tp.store.tokenizer.summary.vocabSize, ids: window.tpTokens.ids }));
    // A text big enough that learning 4000 merges takes a while.
    let s = 3;
    const words = Array.from({ length: 4000 }, () => {
      let w = '';
      for (let i = 0; i < 3 + (s % 6); i++) {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        w += String.fromCharCode(97 + (Math.floor(s / 65536) % 26));
      }
      return w;
    });
    const big = Array.from({ length: 200_000 }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return words[Math.floor(s / 65536) % words.length];
    }).join(' ');
    await useText(page, big);
    await openPanel(page, 'tokenizer');
    await page.selectOption('#tok-kind', 'bpe');
    await page.fill('#tok-vocab', '20000');
    // Press Cancel as soon as the first merges arrive, while training is surely still going.
    await page.evaluate(() => {
      const bar = document.querySelector('#tok-progress');
      const observer = new MutationObserver(() => {
        if (Number(bar.value) > 0 && Number(bar.value) < Number(bar.max)) {
          window.cancelledAt = [Number(bar.value), Number(bar.max)];
          observer.disconnect();
          document.querySelector('#cancel-tokenizer').click();
        }
      });
      observer.observe(bar, { attributes: true });
    });
    await page.click('#train-tokenizer');
    await page.waitForFunction(() => window.cancelledAt, null, { timeout: 30_000 });
    console.log(`cancelled at ${await page.evaluate(() => window.cancelledAt.join(' of '))} merges`);
    await page.waitForFunction(() => !document.querySelector('#train-tokenizer').disabled);
    assert.match(await page.textContent('#tok-message'), /Training cancelled\. The previous tokenizer is unchanged\./);
    assert.equal(await page.evaluate(() => window.tp.store.tokenizer.summary.vocabSize), before.vocab);
    // The panel shows the previous tokenizer again (the run had cleared the merges list).
    await page.waitForFunction(() => document.querySelector('#merges-note').textContent !== '');
    assert.equal(await page.textContent('#merges-note'), 'A character tokenizer learns no merges.');
    assert.equal(Number(await page.getAttribute('#vocab-size', 'data-value')), before.vocab);
    // The fresh worker has the previous tokenizer back: the sample is cut as before.
    await page.fill('#tok-sample', CORPUS.slice(0, 600));
    await page.waitForFunction((ids) => window.tpTokens.ids.join() === ids.join(), before.ids, { timeout: 10_000 });
    assert.deepEqual(await page.evaluate(() => window.tpTokens.ids), before.ids);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

/** The Result table, the form and the merges list as a person sees them. */
async function panelState(page) {
  return page.evaluate(() => ({
    form: ['#tok-kind', '#tok-vocab', '#tok-pattern'].map((id) => document.querySelector(id).value),
    corpusTokens: document.querySelector('#corpus-tokens')?.textContent,
    tokens: Number(document.querySelector('#corpus-tokens')?.dataset.tokens),
    characters: Number(document.querySelector('#corpus-tokens')?.dataset.characters),
    vocab: Number(document.querySelector('#vocab-size')?.dataset.value),
    pattern: document.querySelector('#tok-result-pattern')?.dataset.value,
    trainedOn: document.querySelector('#tok-trained-on')?.textContent,
    stop: document.querySelector('#tok-stop')?.hidden === false ? document.querySelector('#tok-stop').textContent : null,
    merges: [...document.querySelectorAll('#merges li')].map((li) => li.textContent),
  }));
}

test('a BPE tokenizer (600, GPT-4) comes back after a reload with its result, settings and merges; a new corpus is counted', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // A first visit: the default corpus (stories), as a newcomer has it.
    const corpus = await page.evaluate(() => ({ name: window.tp.store.corpus.name, characters: [...window.tp.store.corpus.text].length }));
    await train(page, { kind: 'bpe', vocab: 600, pattern: 'gpt4' });
    assert.match(await page.textContent('#tok-message'), /Trained: 600 tokens/);
    const before = await panelState(page);
    assert.deepEqual(before.form, ['bpe', '600', 'gpt4']);
    assert.equal(before.vocab, 600);
    assert.equal(before.pattern, 'gpt4');
    assert.equal(before.characters, corpus.characters);
    assert.ok(before.tokens > 0 && before.tokens < corpus.characters, `${before.tokens} tokens for ${corpus.characters} characters`);
    assert.match(before.corpusTokens, new RegExp(`for .* characters of ${corpus.name}`));
    assert.equal(before.merges.length, 60, 'the newest 60 merges are listed');
    assert.match(before.merges[0], / \+ .* → .* ×\d+/);
    assert.match(before.stop, /Learned \d+ merges: the vocabulary is full \(600 tokens\)/);

    await page.reload();
    await waitReady(page);
    await openPanel(page, 'tokenizer');
    await page.waitForFunction(() => Number(document.querySelector('#corpus-tokens')?.dataset.tokens) > 0, null, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('#merges li').length > 0);
    const after = await panelState(page);
    assert.deepEqual(after.form, ['bpe', '600', 'gpt4'], 'the form shows the settings that made the tokenizer');
    assert.deepEqual(
      { ...after, corpusTokens: undefined },
      { ...before, corpusTokens: undefined },
      'the result, the stop reason and the merges (with their counts) are as before the reload',
    );
    assert.equal(after.corpusTokens, before.corpusTokens);

    // A new corpus: the result counts it (not the old one) and still says what the tokenizer was trained on.
    const text = 'a new little text about a cat. '.repeat(40);
    await useText(page, text);
    await openPanel(page, 'tokenizer');
    await page.waitForFunction((n) => Number(document.querySelector('#corpus-tokens')?.dataset.characters) === n, text.length);
    const changed = await panelState(page);
    assert.match(changed.corpusTokens, /characters of pasted text$/);
    assert.ok(changed.tokens > 0 && changed.tokens < text.length);
    assert.match(changed.trainedOn, new RegExp(`^${corpus.name}, `));
    await page.waitForFunction(() => window.tpTokens.strings.join('').startsWith('a␣new'));
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('BPE that runs out of pairs says why, how many merges were possible, and lists its merges', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // The case: 4096 tokens asked for on 64 KB of stories.
    await train(page, { kind: 'bpe', vocab: 4096, pattern: 'gpt4' });
    const state = await panelState(page);
    assert.ok(state.vocab > 256 && state.vocab < 4096, `stopped at ${state.vocab}`);
    assert.match(await page.textContent('#tok-message'), new RegExp(`Trained: ${state.vocab} of the 4,096 tokens asked for`));
    assert.equal(await page.getAttribute('#tok-stop', 'data-stop'), 'noPairLeft');
    assert.match(state.stop, new RegExp(`Stopped at ${state.vocab} of the 4096 tokens asked for: every word of the text is already one token, so no pair is left to merge \\(\\d+ merges were all this text allows`));
    assert.match(state.stop, /too small for this vocabulary/);
    const merges = Number(await page.getAttribute('#tok-merge-count', 'data-value'));
    assert.ok(merges >= state.vocab - 256, `${merges} merges`);
    assert.match(await page.textContent('#tok-merge-count'), /all this text allows/);
    assert.equal(state.merges.length, 60, 'the merges list is filled when training stops early');
    assert.match(await page.textContent('#merges-note'), new RegExp(`The newest 60 of ${merges.toLocaleString('en-US')} merges`));
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
