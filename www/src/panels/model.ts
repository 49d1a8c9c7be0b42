// The Model panel: the transformer's shape. The parameter count and memory estimate update as you type, and a
// config the playground or the device cannot run is refused with the reason.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField, selectField } from '../ctx';
import { formatBytes, formatCount } from '../format';
import { checkConfig, largestBuffer, LIMITS } from '../model-size';
import type { ModelSettings } from '../state';

declare global {
  interface Window {
    tpModelCheck?: { params: number; error: string | null };
  }
}

/** Batch size assumed for the memory estimate until the Training panel sets one. */
export const DEFAULT_BATCH = 8;

export const modelPanel: Panel = {
  id: 'model',
  title: 'Model',
  mount(section: HTMLElement, ctx: Ctx) {
    const c = ctx.store.model;
    const layers = numberField('m-layers', 'Layers', c.nLayer, { min: LIMITS.nLayer[0], max: LIMITS.nLayer[1] });
    const heads = numberField('m-heads', 'Heads', c.nHead, { min: LIMITS.nHead[0], max: LIMITS.nHead[1] });
    const dModel = numberField('m-dmodel', 'd_model', c.nEmbd, { min: LIMITS.nEmbd[0], max: LIMITS.nEmbd[1], hint: 'width of every token vector' });
    const context = numberField('m-context', 'Context length', c.blockSize, { min: LIMITS.blockSize[0], max: LIMITS.blockSize[1], hint: 'tokens the model sees at once' });
    const ffn = numberField('m-ffn', 'FFN width', c.ffnMult * c.nEmbd, { min: LIMITS.ffnWidth[0], max: LIMITS.ffnWidth[1], hint: 'usually 4 × d_model' });
    const activation = selectField('m-act', 'Activation', [['gelu', 'GELU'], ['relu', 'ReLU']], c.activation);
    const positional = selectField('m-pos', 'Positions', [['learned', 'learned'], ['sinusoidal', 'sinusoidal'], ['rope', 'RoPE']], c.positional);
    const dropout = numberField('m-dropout', 'Dropout', c.dropout, { min: 0, max: 0.9, step: 0.05 });
    // The training objective: a decoder (GPT) or an encoder (BERT, for the Fill the mask panel).
    const objective = selectField('m-objective', 'Objective', [['causal', 'next token (GPT)'], ['mlm', 'masked tokens (BERT)']], c.objective);
    const inputs = [layers.input, heads.input, dModel.input, context.input, ffn.input, dropout.input];
    const status = h('p', { id: 'model-status', role: 'status', 'aria-live': 'polite', class: 'message' });
    const size = h('div', { id: 'model-size' });
    const build = h('div', {});

    section.append(
      ...intro(
        'Model',
        'A decoder-only transformer: each token becomes a vector of d_model numbers, then every layer lets tokens ' +
          'look at earlier tokens (attention, split across heads) and transforms each one on its own (the ' +
          'feed-forward network). More layers and width mean more capacity, more memory and slower steps.',
        'x ← x + Attention(LayerNorm(x));   x ← x + FFN(LayerNorm(x));   FFN(x) = W₂ · act(W₁x + b₁) + b₂',
      ),
      h(
        'form',
        { class: 'grid-form', id: 'model-form', 'aria-describedby': 'model-status' },
        layers.wrap,
        heads.wrap,
        dModel.wrap,
        context.wrap,
        ffn.wrap,
        activation.wrap,
        positional.wrap,
        dropout.wrap,
        objective.wrap,
      ),
      status,
      size,
      build,
    );

    const read = (): ModelSettings => ({
      nLayer: Number(layers.input.value),
      nHead: Number(heads.input.value),
      nEmbd: Number(dModel.input.value),
      blockSize: Number(context.input.value),
      ffnMult: Number(ffn.input.value) / Number(dModel.input.value),
      activation: activation.select.value as ModelSettings['activation'],
      positional: positional.select.value as ModelSettings['positional'],
      dropout: Number(dropout.input.value),
      objective: objective.select.value as ModelSettings['objective'],
    });

    /** Counts from the worker arrive out of order when typing is fast: only the latest is shown. */
    let latest = 0;
    const update = async () => {
      const config = read();
      const vocab = ctx.store.tokenizer?.summary.vocabSize ?? 256;
      const largest = largestBuffer(config, vocab, DEFAULT_BATCH);
      const maxBinding = ctx.store.backend === 'webgpu' ? ctx.store.maxBinding() : null;
      const error = checkConfig(config, maxBinding, largest);
      const request = ++latest;
      for (const input of inputs) input.removeAttribute('aria-invalid');
      if (error) {
        window.tpModelCheck = { params: 0, error };
        ctx.store.set('modelError', error);
        status.textContent = `Cannot build this model: ${error}`;
        status.dataset.kind = 'error';
        replace(size);
        return;
      }
      status.textContent = '';
      delete status.dataset.kind;
      if (ctx.store.modelError !== null) ctx.store.set('modelError', null);
      ctx.store.set('model', config);
      let report;
      try {
        // A masked-language model has one id more than its tokenizer: [MASK].
        report = await ctx.core.call('modelSize', { ...config, vocabSize: vocab + (config.objective === 'mlm' ? 1 : 0) }, DEFAULT_BATCH);
      } catch (failure) {
        if (request !== latest) return;
        status.textContent = `Cannot build this model: ${failure instanceof Error ? failure.message : String(failure)}`;
        status.dataset.kind = 'error';
        replace(size);
        return;
      }
      if (request !== latest) return;
      window.tpModelCheck = { params: report.params, error: null };
      replace(
        size,
        h(
          'table',
          { class: 'facts' },
          h('tr', {}, h('th', { scope: 'row' }, 'Parameters'), h('td', {}, h('strong', { id: 'param-count', 'data-value': report.params }, formatCount(report.params)))),
          h('tr', {}, h('th', { scope: 'row' }, 'Weights, gradients, AdamW state'), h('td', { id: 'memory-params' }, formatBytes(report.weightBytes))),
          h('tr', {}, h('th', { scope: 'row' }, `Activations and scratch (batch ${DEFAULT_BATCH}, full context)`), h('td', {}, `≈ ${formatBytes(report.activationBytes)}`)),
          h('tr', {}, h('th', { scope: 'row' }, 'Largest buffer'), h('td', {}, `${largest[0]}: ${formatBytes(largest[1])}`)),
        ),
        h(
          'p',
          { class: 'explain', id: 'model-vocab' },
          `Vocabulary ${vocab}` +
            (ctx.store.tokenizer
              ? ` (from the ${ctx.store.tokenizer.auto ? 'character tokenizer Start made' : 'tokenizer'})`
              : ' (the 256 bytes, until there is a tokenizer: train one, or Start in Training makes a character tokenizer)') +
            '. Counted by the core (ModelConfig::param_count and training_bytes).',
        ),
      );
    };
    section.querySelector('form')!.addEventListener('input', () => void update());
    section.querySelector('form')!.addEventListener('submit', (event) => event.preventDefault());
    ctx.store.on('tokenizer', () => void update());
    ctx.store.on('backend', () => void update());
    void update();
  },
};
