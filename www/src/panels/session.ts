// The Save & load panel and the session in IndexedDB: the corpus, the tokenizer and the model settings come
// back after a reload. Models (safetensors) join them once the core has a model.
import { confirmAction, h, replace } from '../dom';
import { type Ctx, type Panel, download, intro } from '../ctx';
import * as db from '../db';
import { countChars, errorMessage, errorSentence, formatBytes, utf8Bytes } from '../format';
import type { CorpusState, ModelSettings, Phase, TokenizerState } from '../state';
import type { ModelInfo } from '../protocol';
import { hfSection } from './hf-files';

const layers = (n: number) => `${n} layer${n === 1 ? '' : 's'}`;

async function keepModel(ctx: Ctx, info: ModelInfo | null): Promise<void> {
  if (!info || !info.inspectable) {
    // Nothing to keep (or a WebGPU model, which cannot be saved in this build): forget older weights, so a
    // reload does not bring back a different model.
    await db.save('model-weights', null);
    return;
  }
  try {
    await db.save('model-weights', await ctx.core.call('saveModel'));
  } catch (error) {
    console.warn(`the model was not kept in the browser: ${errorMessage(error)}`);
  }
}

/** The stored model settings, read before the panels are built so their inputs show them. */
export async function restoreModelConfig(ctx: Ctx): Promise<void> {
  const model = await db.load<ModelSettings>('model');
  // Settings kept before they took the package's names (layers, dModel, …) are left behind.
  if (model && 'nLayer' in model) ctx.store.model = { ...ctx.store.model, ...model };
}

/** Loads what the last visit left in IndexedDB and hands it to the panels. */
export async function restoreSession(ctx: Ctx): Promise<void> {
  const [corpus, tokenizer] = await Promise.all([db.load<CorpusState>('corpus'), db.load<TokenizerState>('tokenizer')]);
  if (corpus) ctx.store.set('corpus', corpus);
  else {
    // A first visit starts with a built-in corpus, so every panel has something to work on with no input.
    try {
      const [name, seed, approxBytes] = ['stories', 1, 65536];
      const text = await ctx.core.call('generateCorpus', name, seed, approxBytes);
      ctx.store.set('corpus', { source: 'builtin', name, seed, approxBytes, text });
    } catch (error) {
      console.warn(`the default corpus did not generate: ${errorMessage(error)}`);
    }
  }
  if (tokenizer) {
    try {
      const summary = await ctx.core.call('loadTokenizer', tokenizer.json, corpus?.text ?? '');
      ctx.store.set('tokenizer', { ...tokenizer, summary: { ...summary, millis: tokenizer.summary.millis } });
    } catch (error) {
      console.warn(`the stored tokenizer did not load: ${errorMessage(error)}`);
    }
  }
  // The trained model: weights (safetensors bytes) and the training history of the chart.
  // One transaction: a page closed mid-run may still be writing its last snapshot.
  const [weights, phases] = (await db.loadAll(['model-weights', 'training-phases'])) as [Uint8Array | undefined, Phase[] | undefined];
  if (weights) {
    try {
      const info = await ctx.core.call('loadModel', weights);
      ctx.store.set('phases', phases ?? []);
      ctx.store.set('modelInfo', info);
    } catch (error) {
      console.warn(`the stored model did not load: ${errorMessage(error)}`);
    }
  }
  // From now on, keep the session up to date.
  ctx.store.on('modelInfo', (info) => void keepModel(ctx, info));
  ctx.store.on('phases', (phases) => void db.save('training-phases', phases));
  ctx.store.on('corpus', (value) => void db.save('corpus', value));
  ctx.store.on('tokenizer', (value) => void db.save('tokenizer', value));
  let modelTimer = 0;
  ctx.store.on('model', (value) => {
    clearTimeout(modelTimer);
    modelTimer = window.setTimeout(() => void db.save('model', value), 300);
  });
  document.documentElement.dataset.restored = 'true';
  document.dispatchEvent(new Event('tp-restored'));
}

export const sessionPanel: Panel = {
  id: 'session',
  title: 'Save & load',
  mount(section: HTMLElement, ctx: Ctx) {
    const stored = h('div', { id: 'session-body' });
    const models = h('div', {});
    const clear = h('button', { type: 'button', id: 'clear-session', class: 'ghost' }, 'Forget this session');
    const message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
    section.append(
      ...intro(
        'Save & load',
        'Your work stays in this browser (IndexedDB): the text, the tokenizer, the model settings and the trained ' +
          'model come back when you reload. Nothing is sent anywhere. Tokenizers download as tokenizer.json (Tokenizer panel); ' +
          'models download as safetensors, the format most libraries read.',
      ),
      h('h3', {}, 'In this browser'),
      stored,
      h('div', { class: 'row' }, clear),
      message,
      h('h3', {}, 'Models'),
      models,
    );
    /** What the browser keeps, as it is now: redrawn whenever any of it changes (a reload's restore included),
     *  so it is true whichever panel is open. */
    const show = () => {
      const corpus = ctx.store.corpus;
      const tokenizer = ctx.store.tokenizer;
      const info = ctx.store.modelInfo;
      const steps = ctx.store.phases.reduce((total, p) => total + p.steps.length, 0);
      const kind = tokenizer ? (tokenizer.summary.kind === 'bpe' ? 'byte-level BPE' : tokenizer.auto ? 'characters (made by Start)' : 'characters') : '';
      replace(
        stored,
        h(
          'table',
          { class: 'facts' },
          h('tr', {}, h('th', { scope: 'row' }, 'Text'), h('td', { id: 'session-text' }, corpus ? `${corpus.name} (${formatBytes(utf8Bytes(corpus.text))}, ${countChars(corpus.text).toLocaleString('en-US')} characters)` : 'none')),
          h('tr', {}, h('th', { scope: 'row' }, 'Tokenizer'), h('td', { id: 'session-tokenizer' }, tokenizer ? `${kind}, ${tokenizer.summary.vocabSize} tokens` : 'none')),
          h('tr', {}, h('th', { scope: 'row' }, 'Model settings'), h('td', { id: 'session-settings' }, `${layers(ctx.store.model.nLayer)}, d_model ${ctx.store.model.nEmbd}`)),
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, 'Trained model'),
            h(
              'td',
              { id: 'session-weights' },
              info
                ? `${info.paramCount.toLocaleString('en-US')} parameters (${layers(info.config.nLayer)}, d_model ${info.config.nEmbd})` +
                    (steps > 0 ? `, ${steps} training steps with their loss chart` : ', loaded from a file')
                : 'none',
            ),
          ),
        ),
      );
    };
    section.addEventListener('panel-shown', show);
    for (const event of ['corpus', 'tokenizer', 'model', 'modelInfo', 'phases'] as const) ctx.store.on(event, show);
    show();
    clear.addEventListener('click', async () => {
      const info = ctx.store.modelInfo;
      const forget = await confirmAction({
        id: 'confirm-forget',
        title: 'Forget this session?',
        text:
          'This deletes what this browser keeps: the text, the tokenizer, the settings' +
          (info ? `, and the trained model (${info.paramCount.toLocaleString('en-US')} parameters) with its loss chart` : '') +
          '. It cannot be brought back. What is on screen stays until you reload' +
          (info ? '; to keep the model, download it below first.' : '.'),
        confirm: 'Forget everything',
      });
      if (!forget) return;
      await db.clear();
      message.textContent = 'Forgotten: a reload starts from scratch (what is on screen stays until then).';
    });
    const modelMessage = h('p', { class: 'message', id: 'model-message', role: 'status', 'aria-live': 'polite' });
    const modelFacts = h('div', { id: 'model-facts' });
    const saveModel = h('button', { type: 'button', id: 'save-model', disabled: true }, 'Download model.safetensors');
    const loadInput = h('input', { type: 'file', id: 'load-model', accept: '.safetensors,application/octet-stream' });
    const sayModel = (text: string, kind: 'ok' | 'error' = 'ok') => {
      modelMessage.textContent = text;
      modelMessage.dataset.kind = kind;
      modelMessage.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    };
    const showModel = (info: ModelInfo | null) => {
      saveModel.disabled = !info;
      replace(
        modelFacts,
        info
          ? h(
              'table',
              { class: 'facts' },
              h('tr', {}, h('th', { scope: 'row' }, 'Parameters'), h('td', { id: 'model-params', 'data-value': info.paramCount }, info.paramCount.toLocaleString('en-US'))),
              h('tr', {}, h('th', { scope: 'row' }, 'Shape'), h('td', {}, `${layers(info.config.nLayer)}, ${info.config.nHead} heads, d_model ${info.config.nEmbd}, context ${info.config.blockSize}, vocabulary ${info.config.vocabSize}, ${info.config.positional} positions, ${info.config.activation}`)),
            )
          : h('p', { class: 'explain' }, 'No model yet: train one (Training panel) or load a file.'),
      );
    };
    saveModel.addEventListener('click', async () => {
      try {
        download('model.safetensors', (await ctx.core.call('saveModel')) as Uint8Array<ArrayBuffer>, 'application/octet-stream');
        sayModel('Saved: the file holds the weights (nanoGPT names), the config and the tokenizer.');
      } catch (error) {
        sayModel(errorMessage(error), 'error');
      }
    });
    loadInput.addEventListener('change', async () => {
      const picked = loadInput.files?.[0];
      loadInput.value = '';
      if (!picked) return;
      try {
        if (picked.size > 512 * 2 ** 20) throw new Error(`${formatBytes(picked.size)} is more than a playground model can be`);
        const info = await ctx.core.call('loadModel', new Uint8Array(await picked.arrayBuffer()));
        if (info.tokenizerJson) {
          const summary = await ctx.core.call('loadTokenizer', info.tokenizerJson, ctx.store.corpus?.text ?? '');
          ctx.store.set('tokenizer', { options: { kind: summary.kind, vocabSize: summary.vocabSize, pattern: 'none' }, summary, json: info.tokenizerJson });
        }
        ctx.store.set('phases', []);
        ctx.store.set('modelInfo', { backend: 'cpu', inspectable: true, paramCount: info.paramCount, config: info.config, trainable: info.trainable });
        sayModel(`Loaded "${picked.name}": ${info.paramCount.toLocaleString('en-US')} parameters${info.tokenizerJson ? ', with its tokenizer' : ''}. Train on (Training panel, keep the weights) to fine-tune it.`);
      } catch (error) {
        sayModel(`"${picked.name}" did not load: ${errorSentence(error)} The current model is unchanged.`, 'error');
      }
    });
    ctx.store.on('modelInfo', showModel);
    replace(models, modelFacts, h('div', { class: 'row' }, saveModel, h('label', { for: 'load-model', class: 'button-like' }, 'Load model.safetensors'), loadInput), modelMessage);
    section.append(hfSection(ctx));
    showModel(ctx.store.modelInfo);
  },
};
