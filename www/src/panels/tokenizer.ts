// The Tokenizer panel: train a character or byte-level BPE tokenizer on the corpus (in the worker, with the
// merges appearing as they are learned), then see a text as colored tokens with their ids and bytes.
import { h, replace } from '../dom';
import { type Ctx, type Panel, download, intro, numberField, selectField } from '../ctx';
import { errorMessage, errorSentence, formatCount } from '../format';
import type { BpeProgressView, MergeView, Tokenized, TokenizerOptions, TokenizerStats } from '../protocol';
import type { TokenizerState } from '../state';
import { attachTooltip } from '../tooltip';

declare global {
  interface Window {
    /** The tokens last shown, for tests. */
    tpTokens?: Tokenized;
  }
}

const SAMPLE_CHARS = 600;
const MERGES_SHOWN = 60;
const PATTERN_NAMES = { gpt2: 'GPT-2', gpt4: 'GPT-4', none: 'none' } as const;

/** The result: what the tokenizer is, how its training ended, and how it cuts the current corpus. */
function statsView(state: TokenizerState, corpus: { name: string; stats: TokenizerStats } | null): HTMLElement {
  const summary = state.summary;
  const training = state.training;
  const row = (label: string, value: string, attrs: Record<string, string | number> = {}) =>
    h('tr', {}, h('th', { scope: 'row' }, label), h('td', attrs, value));
  const pattern = summary.pattern ?? (summary.kind === 'bpe' ? state.options.pattern : undefined);
  const vocabText = training?.stoppedEarly
    ? `${formatCount(summary.vocabSize)} (of ${formatCount(training.vocabAsked)} asked for)`
    : formatCount(summary.vocabSize);
  const s = corpus?.stats;
  const corpusName = corpus?.name ?? '';
  return h(
    'table',
    { class: 'facts', id: 'tokenizer-stats' },
    row('Kind', summary.kind === 'bpe' ? 'byte-level BPE' : 'characters'),
    row('Vocabulary', vocabText, { id: 'vocab-size', 'data-value': summary.vocabSize }),
    pattern ? row('Split pattern', PATTERN_NAMES[pattern], { id: 'tok-result-pattern', 'data-value': pattern }) : null,
    training ? row('Merges', `${formatCount(training.merges)}${training.mergesPossible !== undefined ? ' (all this text allows)' : ''}`, { id: 'tok-merge-count', 'data-value': training.merges }) : null,
    state.trainedOn ? row('Trained on', `${state.trainedOn.name}, ${formatCount(state.trainedOn.characters)} characters`, { id: 'tok-trained-on' }) : null,
    s
      ? row('Corpus tokens', `${formatCount(s.tokens)} for ${formatCount(s.characters)} characters of ${corpusName}`, { id: 'corpus-tokens', 'data-tokens': s.tokens, 'data-characters': s.characters })
      : row('Corpus tokens', 'no corpus (choose one in the Data panel)', { id: 'corpus-tokens' }),
    s ? row('Tokens per character', s.tokens_per_char.toFixed(3), { id: 'tokens-per-char', 'data-value': s.tokens_per_char }) : null,
    s ? row('Bytes per token', s.bytes_per_token.toFixed(2)) : null,
    row('Trained in', `${(summary.millis / 1000).toFixed(2)} s`),
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
    const stop = h('p', { id: 'tok-stop', hidden: true });
    const merges = h('ol', { id: 'merges', class: 'merges', 'aria-label': 'latest merges' });
    const mergesNote = h('p', { class: 'hint', id: 'merges-note' });
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
      h('div', { class: 'cols' }, h('div', {}, h('h3', {}, 'Result'), stats, stop), h('div', {}, h('h3', {}, 'Merges, as they are learned'), mergesNote, merges)),
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

    // The result always describes the current tokenizer on the current corpus: both can change (a reload, a
    // new corpus, a model file with its own tokenizer), so the numbers are asked for again each time. A
    // counter drops answers that a newer change has overtaken.
    // Counting encodes the whole corpus in the worker, so a hidden panel only notes that its numbers are stale
    // and counts when it is shown.
    let generation = 0;
    let stale = false;
    const showResult = async () => {
      const state = ctx.store.tokenizer;
      const mine = ++generation;
      stale = section.hidden;
      if (!state || stale) return;
      const corpus = ctx.store.corpus;
      let current: { name: string; stats: TokenizerStats } | null = null;
      if (corpus && corpus.text.length > 0) {
        try {
          await ctx.core.restored; // after a cancel, the fresh worker gets the tokenizer back first
          current = { name: corpus.name, stats: await ctx.core.call('tokenizerStats', corpus.text) };
        } catch {
          return; // the worker stopped meanwhile: the table stays until the next change
        }
      }
      if (mine !== generation) return;
      replace(stats, statsView(state, current));
    };

    const mergeItem = (m: MergeView) =>
      h(
        'li',
        { value: m.rank },
        h('code', {}, m.left),
        ' + ',
        h('code', {}, m.right),
        ' → ',
        h('code', { class: 'new' }, m.text),
        m.count !== undefined ? h('span', { class: 'hint' }, ` ×${m.count}`) : null,
      );
    const showMerges = (list: MergeView[], total: number | undefined) => {
      replace(merges, ...list.map(mergeItem));
      mergesNote.textContent =
        list.length === 0
          ? ctx.store.tokenizer?.summary.kind === 'char'
            ? 'A character tokenizer learns no merges.'
            : 'No merges.'
          : `The newest ${list.length}${total !== undefined ? ` of ${formatCount(total)}` : ''} merges, newest first${list[0]?.count === undefined ? ' (loaded from a file: the counts are not known)' : ''}.`;
    };

    const showState = async (state: TokenizerState | null) => {
      save.disabled = !state;
      if (!state) return;
      // The form shows the settings that made this tokenizer (what a reload, or a file, brought back).
      kind.select.value = state.summary.kind;
      if (state.summary.kind === 'bpe') {
        vocab.input.value = String(state.training?.vocabAsked ?? state.options.vocabSize ?? state.summary.vocabSize);
        pattern.select.value = state.summary.pattern ?? state.options.pattern;
      }
      syncKind();
      const training = state.training;
      stop.hidden = !training;
      stop.className = training?.stoppedEarly ? 'notice' : 'explain';
      stop.dataset.stop = training?.stop ?? '';
      stop.textContent = training?.message ?? '';
      void showResult();
      void showTokens();
      if (state.recentMerges) showMerges(state.recentMerges, training?.merges);
      else {
        try {
          await ctx.core.restored;
          showMerges(await ctx.core.call('tokenizerMerges', MERGES_SHOWN), training?.merges);
        } catch {
          // the worker is restarting; the list stays as it was
        }
      }
    };
    ctx.store.on('tokenizer', (state) => void showState(state));

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
      mergesNote.textContent = '';
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
        if (summary.training) {
          const t = summary.training;
          progressText.textContent = `${formatCount(t.merges)} merges${t.stoppedEarly ? ': all this text allows' : ''}`;
        }
        const [json, recentMerges] = await Promise.all([ctx.core.call('tokenizerJson'), ctx.core.call('tokenizerMerges', MERGES_SHOWN)]);
        const training = summary.training;
        ctx.store.set('tokenizer', {
          options,
          summary,
          json,
          trainedOn: { name: corpus.name, characters: summary.stats.characters },
          training,
          recentMerges,
        });
        say(
          training?.stoppedEarly
            ? `Trained: ${formatCount(summary.vocabSize)} of the ${formatCount(training.vocabAsked)} tokens asked for (see why under Result).`
            : `Trained: ${formatCount(summary.vocabSize)} tokens in the vocabulary.`,
        );
      } catch (error) {
        say(`${errorMessage(error)} The previous tokenizer is unchanged.`, 'error');
        const previous = ctx.store.tokenizer;
        if (previous) void showState(previous); // the merges list was cleared for the run
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
        ctx.store.set('tokenizer', { options: { kind: summary.kind, vocabSize: summary.vocabSize, pattern: summary.pattern ?? 'none' }, summary, json });
        say(`Loaded "${picked.name}": ${formatCount(summary.vocabSize)} tokens.`);
      } catch (error) {
        say(`"${picked.name}" did not load: ${errorSentence(error)} The previous tokenizer is unchanged.`, 'error');
      }
    });

    section.addEventListener('panel-shown', () => {
      if (stale) void showResult();
    });
    ctx.store.on('corpus', () => {
      void showResult();
      if (!sample.value) void showTokens();
    });
    syncKind();
  },
};
