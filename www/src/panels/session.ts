// The Save & load panel and the session in IndexedDB: the corpus, the tokenizer and the model settings come
// back after a reload. Models (safetensors) join them once the core has a model.
import { h, replace } from '../dom';
import { type Ctx, type Panel, comingSoon, intro } from '../ctx';
import * as db from '../db';
import { errorMessage, formatBytes } from '../format';
import type { CorpusState, ModelConfig, TokenizerState } from '../state';

/** The stored model settings, read before the panels are built so their inputs show them. */
export async function restoreModelConfig(ctx: Ctx): Promise<void> {
  const model = await db.load<ModelConfig>('model');
  if (model) ctx.store.model = { ...ctx.store.model, ...model };
}

/** Loads what the last visit left in IndexedDB and hands it to the panels. */
export async function restoreSession(ctx: Ctx): Promise<void> {
  const [corpus, tokenizer] = await Promise.all([db.load<CorpusState>('corpus'), db.load<TokenizerState>('tokenizer')]);
  if (corpus) ctx.store.set('corpus', corpus);
  else if (ctx.store.caps.corpus) {
    // A first visit starts with a built-in corpus, so every panel has something to work on with no input.
    try {
      const [name, seed, approxBytes] = ['stories', 1, 65536];
      const text = await ctx.core.call('generateCorpus', name, seed, approxBytes);
      ctx.store.set('corpus', { source: 'builtin', name, seed, approxBytes, text });
    } catch (error) {
      console.warn(`the default corpus did not generate: ${errorMessage(error)}`);
    }
  }
  if (tokenizer && ctx.store.caps.tokenizer) {
    try {
      const summary = await ctx.core.call('loadTokenizer', tokenizer.json, corpus?.text ?? '');
      ctx.store.set('tokenizer', { ...tokenizer, summary: { ...summary, millis: tokenizer.summary.millis } });
    } catch (error) {
      console.warn(`the stored tokenizer did not load: ${errorMessage(error)}`);
    }
  }
  // From now on, keep the session up to date.
  ctx.store.on('corpus', (value) => void db.save('corpus', value));
  ctx.store.on('tokenizer', (value) => void db.save('tokenizer', value));
  let modelTimer = 0;
  ctx.store.on('model', (value) => {
    clearTimeout(modelTimer);
    modelTimer = window.setTimeout(() => void db.save('model', value), 300);
  });
  document.dispatchEvent(new Event('tp-restored'));
}

export const sessionPanel: Panel = {
  id: 'session',
  title: 'Save & load',
  mount(section: HTMLElement, ctx: Ctx) {
    const stored = h('div', { id: 'session-body' });
    const models = h('div', {});
    const clear = h('button', { type: 'button', id: 'clear-session' }, 'Forget this session');
    const message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
    section.append(
      ...intro(
        'Save & load',
        'Your work stays in this browser (IndexedDB): the text, the tokenizer and the model settings come back ' +
          'when you reload. Nothing is sent anywhere. Tokenizers download as tokenizer.json (Tokenizer panel); ' +
          'models download as safetensors, the format most libraries read.',
      ),
      h('h3', {}, 'In this browser'),
      stored,
      h('div', { class: 'row' }, clear),
      message,
      h('h3', {}, 'Models'),
      models,
    );
    const show = () => {
      const corpus = ctx.store.corpus;
      const tokenizer = ctx.store.tokenizer;
      replace(
        stored,
        h(
          'table',
          { class: 'facts' },
          h('tr', {}, h('th', { scope: 'row' }, 'Text'), h('td', {}, corpus ? `${corpus.name} (${formatBytes(corpus.text.length)})` : 'none')),
          h('tr', {}, h('th', { scope: 'row' }, 'Tokenizer'), h('td', { id: 'session-tokenizer' }, tokenizer ? `${tokenizer.summary.kind}, ${tokenizer.summary.vocabSize} tokens` : 'none')),
          h('tr', {}, h('th', { scope: 'row' }, 'Model settings'), h('td', {}, `${ctx.store.model.layers} layers, d_model ${ctx.store.model.dModel}`)),
        ),
      );
    };
    section.addEventListener('panel-shown', show);
    clear.addEventListener('click', async () => {
      await db.clear();
      message.textContent = 'Forgotten: a reload starts from scratch (what is on screen stays until then).';
    });
    ctx.store.on('caps', (caps) => {
      if (!caps.cpuModel) replace(models, comingSoon('Saving and loading models as safetensors, and fine-tuning a saved model on a second corpus.', 'models'));
    });
  },
};
