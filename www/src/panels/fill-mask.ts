// The Fill the mask panel: a masked-language model (an encoder, BERT-style) reads a text with [MASK] in it and
// guesses each masked token from both sides. Type [MASK] in the text or click a token to mask it (Enter or Space
// on a focused token does the same); the top-k guesses with their probabilities appear under each mask, and the
// model's attention maps show that every position looks both ways. A causal model has no [MASK]: the panel says
// so instead of guessing.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField } from '../ctx';
import { heatmapFigure, legend } from '../heatmap';
import { errorMessage } from '../format';
import type { FillMaskView } from '../protocol';

declare global {
  interface Window {
    /** The last fill the panel showed (for tests and the curious). */
    tpFillMask?: FillMaskView;
  }
}

const MASK = '[MASK]';

export const fillMaskPanel: Panel = {
  id: 'fill-mask',
  title: 'Fill the mask',
  mount(section: HTMLElement, ctx: Ctx) {
    const input = h('textarea', { id: 'fill-text', rows: 3, spellcheck: 'false', 'aria-describedby': 'fill-hint' });
    const hint = h(
      'small',
      { id: 'fill-hint', class: 'hint' },
      `Write ${MASK} where the model should guess a token, or click a token below (Enter or Space on a focused one) to mask it or unmask it.`,
    );
    const topK = numberField('fill-topk', 'Guesses per mask', 5, { min: 1, max: 20 });
    const run = h('button', { type: 'button', id: 'fill-run' }, 'Fill in');
    const message = h('p', { id: 'fill-message', class: 'message', role: 'status', 'aria-live': 'polite' });
    const tokens = h('p', { class: 'tokens', id: 'fill-tokens', 'aria-label': 'The text as tokens: activate one to mask it' });
    const guesses = h('div', { id: 'fill-guesses' });
    const maps = h('div', { id: 'fill-maps' });
    const noModel = h('p', { class: 'explain', id: 'fill-no-model' });
    section.append(
      ...intro(
        'Fill the mask',
        'An encoder (BERT) is trained differently from a GPT: 15% of the tokens of each window are hidden (most ' +
          `become ${MASK}, some a random token, some stay), and the model learns to say what was there, reading the ` +
          'tokens before and after. Its attention is bidirectional: no mask hides the future. To train one, pick the ' +
          'masked-language objective in the Model panel, then train as usual.',
        'loss = mean over the masked positions i of −log p(xᵢ | the whole window with xᵢ hidden)',
      ),
      noModel,
      h('div', { class: 'field' }, h('label', { for: 'fill-text' }, 'Text'), input, hint),
      h('div', { class: 'row' }, topK.wrap, run),
      message,
      tokens,
      guesses,
      maps,
    );

    const fail = (text: string) => {
      message.textContent = text;
      message.dataset.kind = 'error';
    };

    const show = (view: FillMaskView) => {
      window.tpFillMask = view;
      const masked = new Map(view.masks.map((m) => [m.position, m]));
      // The tokens as the model read them: a button each (click, Enter or Space toggles its mask).
      replace(
        tokens,
        ...view.tokens.map((text, i) => {
          const button = h(
            'button',
            {
              type: 'button',
              class: `tok${masked.has(i) ? ' masked' : ''}`,
              'data-position': i,
              'aria-pressed': String(masked.has(i)),
              title: masked.has(i) ? 'Unmask: put the top guess back' : 'Mask this token',
            },
            text,
          );
          button.addEventListener('click', () => toggle(view, i));
          return button;
        }),
      );
      replace(
        guesses,
        ...view.masks.map((m, n) =>
          h(
            'figure',
            { class: 'fill-guess', id: `fill-guess-${n}` },
            h('figcaption', {}, `${MASK} at position ${m.position}`),
            h(
              'ol',
              {},
              ...m.predictions.map((p) => {
                const bar = h('span', { class: 'wbar' });
                bar.style.width = `${Math.round(p.prob * 100)}%`;
                return h('li', { 'data-token': p.text }, h('code', {}, p.text), ` ${(p.prob * 100).toFixed(1)}%`, bar);
              }),
            ),
          ),
        ),
      );
      const { nLayer, nHead, t, att } = view.attention;
      replace(
        maps,
        h('h3', {}, 'Bidirectional attention'),
        h('p', { class: 'explain' }, 'Each row is a query position, each column a key: an encoder’s rows reach to both sides of the diagonal.'),
        ...Array.from({ length: nLayer }, (_, l) =>
          h(
            'div',
            { class: 'att-row' },
            h('span', { class: 'att-row-label' }, `layer ${l}`),
            ...Array.from({ length: nHead }, (_, hd) =>
              heatmapFigure(att.slice((l * nHead + hd) * t * t, (l * nHead + hd + 1) * t * t), t, t, {
                caption: `layer ${l}, head ${hd}`,
                xLabel: 'key',
                yLabel: 'query',
                scale: 'sequential',
                range: [0, 1],
                valueLabel: 'weight',
                className: 'thumb',
                id: `fill-att-l${l}-h${hd}`,
                enlarge: true,
                tickLabels: 'enlarged',
                rowLabels: view.tokens,
                colLabels: view.tokens,
              }),
            ),
          ),
        ),
        legend('sequential', 0, 1, 'attention weight (each row sums to 1)'),
      );
    };

    /** Masks token `i` of the shown text, or unmasks it (with the model's top guess in its place). */
    const toggle = (view: FillMaskView, i: number) => {
      const pieces = view.tokens.map((_, j) => (j === i && !view.masks.some((m) => m.position === j) ? MASK : view.raw[j]!));
      const mask = view.masks.find((m) => m.position === i);
      if (mask) pieces[i] = mask.predictions[0]?.raw ?? '';
      input.value = pieces.join('');
      void fill(i);
    };

    const fill = async (focus?: number) => {
      message.textContent = '';
      delete message.dataset.kind;
      const k = Number(topK.input.value);
      if (!Number.isInteger(k) || k < 1 || k > 20) return fail('Guesses per mask must be a whole number from 1 to 20.');
      run.disabled = true;
      try {
        const view = await ctx.core.call('fillMask', input.value, k);
        show(view);
        if (view.masks.length === 0) message.textContent = `No ${MASK} in the text: click a token to mask it.`;
        if (focus !== undefined) (tokens.querySelector(`[data-position="${focus}"]`) as HTMLElement | null)?.focus();
      } catch (error) {
        fail(errorMessage(error));
      } finally {
        syncModel();
      }
    };

    const syncModel = () => {
      const info = ctx.store.modelInfo;
      run.disabled = info === null;
      noModel.hidden = info !== null && info.config.objective === 'mlm';
      noModel.textContent =
        info === null
          ? 'No model yet: choose the masked-language objective in the Model panel and train one in the Training panel.'
          : `The current model was trained with the causal objective (the next token): it has no ${MASK}. Choose the masked-language objective in the Model panel and train again to fill in masks.`;
    };
    run.addEventListener('click', () => void fill());
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void fill();
    });
    ctx.store.on('modelInfo', syncModel);
    section.addEventListener('panel-shown', syncModel);
    syncModel();
    const seed = () => {
      if (!input.value && ctx.store.corpus) {
        const start = ctx.store.corpus.text.slice(0, 40);
        input.value = start.length > 8 ? `${start.slice(0, 6)}${MASK}${start.slice(7)}` : start;
      }
    };
    ctx.store.on('corpus', seed);
    seed();
  },
};
