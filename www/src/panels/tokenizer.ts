// The Tokenizer panel: train a character or byte-level BPE tokenizer on the corpus (in the worker, with the
// merges appearing as they are learned), then see a text as colored tokens with their ids and bytes.
import { h, replace } from '../dom';
import { type Ctx, type Panel, download, intro, numberField, selectField } from '../ctx';
import { errorMessage, errorSentence, formatCount } from '../format';
import type { BpeProgressView, Tokenized, TokenizerOptions, TokenizerSummary } from '../protocol';
import { attachTooltip } from '../tooltip';

declare global {
  interface Window {
    /** The tokens last shown, for tests. */
    tpTokens?: Tokenized;
  }
}

const SAMPLE_CHARS = 600;
const MERGES_SHOWN = 60;

function statsView(summary: TokenizerSummary): HTMLElement {
  const s = summary.stats;
  return h(
    'table',
    { class: 'facts', id: 'tokenizer-stats' },
    h('tr', {}, h('th', { scope: 'row' }, 'Kind'), h('td', {}, summary.kind === 'bpe' ? 'byte-level BPE' : 'characters')),
    h('tr', {}, h('th', { scope: 'row' }, 'Vocabulary'), h('td', { id: 'vocab-size', 'data-value': summary.vocabSize }, formatCount(summary.vocabSize))),
    h('tr', {}, h('th', { scope: 'row' }, 'Corpus tokens'), h('td', {}, `${formatCount(s.tokens)} for ${formatCount(s.characters)} characters`)),
    h('tr', {}, h('th', { scope: 'row' }, 'Tokens per character'), h('td', { id: 'tokens-per-char', 'data-value': s.tokens_per_char }, s.tokens_per_char.toFixed(3))),
    h('tr', {}, h('th', { scope: 'row' }, 'Bytes per token'), h('td', {}, s.bytes_per_token.toFixed(2))),
    h('tr', {}, h('th', { scope: 'row' }, 'Trained in'), h('td', {}, `${(summary.millis / 1000).toFixed(2)} s`)),
  );
}

function tokensView(tokens: Tokenized): HTMLElement {
  const spans = tokens.ids.map((id, i) => {
    // One tab stop for the whole text; the arrow keys move between tokens (a roving tabindex).
    const span = h('span', { class: `tok c${i % 6}`, tabindex: i === 0 ? 0 : -1, 'data-id': id }, tokens.strings[i]);
    attachTooltip(span, () => [
      h('strong', {}, tokens.strings[i]),
      h('br'),
      `id ${id} · bytes ${tokens.bytes[i]}`,
    ]);
    return span;
  });
  const view = h('p', { class: 'tokens', id: 'token-view', 'aria-label': `${tokens.ids.length} tokens; arrow keys move between them` }, ...spans);
  view.addEventListener('keydown', (event) => {
    const at = spans.indexOf(document.activeElement as HTMLSpanElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: spans.length - 1 }[event.key];
    if (next === undefined || next < 0 || next >= spans.length) return;
    event.preventDefault();
    spans[at].tabIndex = -1;
    spans[next].tabIndex = 0;
    spans[next].focus();
  });
  return h(
    'div',
    {},
    view,
    h('p', { class: 'explain' }, `${tokens.ids.length} tokens${tokens.truncated ? ` (the first ${SAMPLE_CHARS} characters)` : ''}. Hover or focus a token for its id and bytes; ␣ is a space.`),
    h('details', {}, h('summary', {}, 'Token ids'), h('p', { class: 'mono', id: 'token-ids' }, tokens.ids.join(' '))),
  );
}

export const tokenizerPanel: Panel = {
  id: 'tokenizer',
  title: 'Tokenizer',
  mount(section: HTMLElement, ctx: Ctx) {
    const kind = selectField('tok-kind', 'Kind', [['bpe', 'byte-level BPE'], ['char', 'characters']], 'bpe');
    const vocab = numberField('tok-vocab', 'Vocabulary size', 512, { min: 257, max: 65536, hint: '256 bytes + the merges to learn' });
    const pattern = selectField('tok-pattern', 'Split pattern', [['gpt2', 'GPT-2'], ['gpt4', 'GPT-4'], ['none', 'none']], 'gpt2');
    const train = h('button', { type: 'button', id: 'train-tokenizer' }, 'Train tokenizer');
    const cancel = h('button', { type: 'button', id: 'cancel-tokenizer', class: 'ghost', hidden: true }, 'Cancel');
    const progress = h('progress', { id: 'tok-progress', max: 1, value: 0, 'aria-label': 'tokenizer training progress' });
    const progressText = h('span', { id: 'tok-progress-text', class: 'hint' });
    const message = h('p', { id: 'tok-message', class: 'message', role: 'status', 'aria-live': 'polite' });
    const merges = h('ol', { id: 'merges', class: 'merges', 'aria-label': 'latest merges' });
    const stats = h('div', {}, h('p', { class: 'explain' }, 'No tokenizer yet.'));
    const sample = h('textarea', { id: 'tok-sample', rows: 3, placeholder: 'The text to cut into tokens (the start of the corpus by default)' });
    const tokens = h('div', { id: 'tokens-body' });
    const save = h('button', { type: 'button', id: 'save-tokenizer', disabled: true }, 'Download tokenizer.json');
    const load = h('input', { type: 'file', id: 'load-tokenizer', accept: '.json,application/json' });
    const body = h(
      'div',
      {},
      h('div', { class: 'row' }, kind.wrap, vocab.wrap, pattern.wrap),
      h('div', { class: 'row' }, train, cancel, progress, progressText),
      message,
      h('div', { class: 'cols' }, h('div', {}, h('h3', {}, 'Result'), stats), h('div', {}, h('h3', {}, 'Merges, as they are learned'), merges)),
      h('h3', {}, 'Your text as tokens'),
      h('label', { for: 'tok-sample' }, 'Text'),
      sample,
      tokens,
      h('h3', {}, 'Save and load'),
      h('div', { class: 'row' }, save, h('label', { for: 'load-tokenizer', class: 'button-like' }, 'Load tokenizer.json'), load),
    );
    section.append(
      ...intro(
        'Tokenizer',
        'The model reads numbers, not letters. A tokenizer cuts text into pieces (tokens) and numbers them. ' +
          'A character tokenizer uses one token per character. Byte-pair encoding (BPE) starts from the 256 bytes ' +
          'and repeatedly merges the most frequent neighbouring pair into a new token, so common words become one token.',
        'BPE step: (a, b) = argmax count(a b) over neighbouring pairs;  add token ab;  replace every a b with ab',
      ),
      body,
    );

    const say = (text: string, kind: 'ok' | 'error' = 'ok') => {
      message.textContent = text;
      message.dataset.kind = kind;
      message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    };
    const syncKind = () => {
      const bpe = kind.select.value === 'bpe';
      vocab.input.disabled = !bpe;
      pattern.select.disabled = !bpe;
    };
    kind.select.addEventListener('change', syncKind);

    const showTokens = async () => {
      if (!ctx.store.tokenizer) return;
      const text = sample.value || ctx.store.corpus?.text.slice(0, SAMPLE_CHARS) || '';
      try {
        const result = await ctx.core.call('tokenize', text, SAMPLE_CHARS);
        window.tpTokens = result;
        replace(tokens, tokensView(result));
      } catch (error) {
        replace(tokens, h('p', { class: 'notice', role: 'alert' }, errorMessage(error)));
      }
    };
    let sampleTimer = 0;
    sample.addEventListener('input', () => {
      clearTimeout(sampleTimer);
      sampleTimer = window.setTimeout(showTokens, 200);
    });

    ctx.store.on('tokenizer', (state) => {
      save.disabled = !state;
      if (state) {
        replace(stats, statsView(state.summary));
        void showTokens();
      }
    });

    const mergeItem = (m: BpeProgressView['merges'][number]) =>
      h('li', { value: m.rank }, h('code', {}, m.left), ' + ', h('code', {}, m.right), ' → ', h('code', { class: 'new' }, m.text), h('span', { class: 'hint' }, ` ×${m.count}`));

    train.addEventListener('click', async () => {
      const corpus = ctx.store.corpus;
      if (!corpus || corpus.text.length === 0) return say('There is no text to train on: choose a corpus in the Data panel first.', 'error');
      const options: TokenizerOptions = {
        kind: kind.select.value as TokenizerOptions['kind'],
        vocabSize: Number(vocab.input.value),
        pattern: pattern.select.value as TokenizerOptions['pattern'],
      };
      if (options.kind === 'bpe' && !(Number.isInteger(options.vocabSize) && options.vocabSize >= 257 && options.vocabSize <= 65536)) {
        return say('The vocabulary size must be a whole number from 257 (256 bytes and one merge) to 65536.', 'error');
      }
      train.disabled = true;
      cancel.hidden = options.kind !== 'bpe';
      merges.replaceChildren();
      progress.value = 0;
      progressText.textContent = '';
      say(options.kind === 'bpe' ? 'Training BPE in the worker…' : 'Collecting characters…');
      try {
        const summary = await ctx.core.callWithProgress(
          'trainTokenizer',
          (value) => {
            const step = value as BpeProgressView;
            progress.max = step.total;
            progress.value = step.done;
            progressText.textContent = `${step.done} / ${step.total} merges`;
            for (const m of step.merges) merges.prepend(mergeItem(m));
            while (merges.children.length > MERGES_SHOWN) merges.lastElementChild?.remove();
          },
          corpus.text,
          options,
        );
        progress.max = 1;
        progress.value = 1;
        const json = await ctx.core.call('tokenizerJson');
        ctx.store.set('tokenizer', { options, summary, json });
        say(`Trained: ${formatCount(summary.vocabSize)} tokens in the vocabulary.`);
      } catch (error) {
        say(`${errorMessage(error)} The previous tokenizer is unchanged.`, 'error');
      } finally {
        train.disabled = false;
        cancel.hidden = true;
      }
    });
    // Training is one long call inside the worker, so cancelling stops the worker and starts a fresh one
    // (main.ts loads the previous tokenizer back into it).
    cancel.addEventListener('click', () => ctx.core.restart('Training cancelled.'));

    save.addEventListener('click', () => {
      const state = ctx.store.tokenizer;
      if (state) download('tokenizer.json', state.json, 'application/json');
    });
    load.addEventListener('change', async () => {
      const picked = load.files?.[0];
      load.value = '';
      if (!picked) return;
      try {
        if (picked.size > 50 * 2 ** 20) throw new Error(`"${picked.name}" is too large for a tokenizer.json.`);
        const json = await picked.text();
        const summary = await ctx.core.call('loadTokenizer', json, ctx.store.corpus?.text ?? '');
        ctx.store.set('tokenizer', { options: { kind: summary.kind, vocabSize: summary.vocabSize, pattern: 'none' }, summary, json });
        say(`Loaded "${picked.name}": ${formatCount(summary.vocabSize)} tokens.`);
      } catch (error) {
        say(`"${picked.name}" did not load: ${errorSentence(error)} The previous tokenizer is unchanged.`, 'error');
      }
    });

    ctx.store.on('corpus', () => {
      if (!sample.value) void showTokens();
    });
    syncKind();
  },
};
