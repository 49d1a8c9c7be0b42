// The Attention panel. Until the core has a model, it shows the computation of one attention head step by
// step on a worked example (small made-up numbers, clearly labelled); with a model the same view shows the
// model's own q, k and v for a chosen layer, head and query.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro } from '../ctx';
import { type AttentionStep, attentionStep, seededValues } from '../attention-math';
import { heatmapFigure, legend } from '../heatmap';
import { errorMessage } from '../format';
import type { AttentionMaps } from '../protocol';

declare global {
  interface Window {
    tpAttentionStep?: AttentionStep;
    tpModelAttention?: AttentionMaps;
    tpModelAttentionStep?: AttentionStep;
  }
}

const EXAMPLE_TOKENS = ['The', '␣cat', '␣sat', '␣on', '␣the', '␣mat'];
const EXAMPLE_DK = 4;

function fmt(x: number): string {
  if (x === -Infinity) return '−∞';
  return x.toFixed(3).replace('-', '−');
}

/** A vector in a table cell; long ones show their first values (all of them in the cell's title). */
function vectorCell(values: number[]): HTMLElement {
  const full = `[${values.map(fmt).join(', ')}]`;
  if (values.length <= 6) return h('td', { class: 'vec' }, full);
  return h('td', { class: 'vec', title: full }, `[${values.slice(0, 4).map(fmt).join(', ')}, … ${values.length - 4} more]`);
}

/** The table of one computation: a row per key position, a column per step. */
function stepTable(step: AttentionStep, prefix = 'attention'): HTMLElement {
  const head = h(
    'tr',
    {},
    h('th', { scope: 'col' }, 'key j'),
    h('th', { scope: 'col' }, '① q·kⱼ'),
    h('th', { scope: 'col' }, `② ÷ √${step.dk}`),
    h('th', { scope: 'col' }, '③ mask'),
    h('th', { scope: 'col' }, '④ softmax'),
    h('th', { scope: 'col' }, 'kⱼ'),
    h('th', { scope: 'col' }, 'vⱼ'),
  );
  const rows = step.tokens.map((token, j) => {
    const row = h(
      'tr',
      { class: j > step.query ? 'masked' : '' },
      h('th', { scope: 'row' }, `${j} ${token}`),
      h('td', { class: 'num', 'data-step': 'score' }, fmt(step.scores[j])),
      h('td', { class: 'num', 'data-step': 'scaled' }, fmt(step.scaled[j])),
      h('td', { class: 'num', 'data-step': 'masked' }, fmt(step.masked[j])),
      h('td', { class: 'num weight', 'data-step': 'weight' }, fmt(step.weights[j])),
      vectorCell(step.k[j]),
      vectorCell(step.v[j]),
    );
    const bar = h('span', { class: 'wbar' });
    bar.style.width = `${Math.round(step.weights[j] * 100)}%`;
    row.querySelector('.weight')!.append(bar);
    return row;
  });
  return h('table', { class: 'steps', id: `${prefix}-steps` }, h('thead', {}, head), h('tbody', {}, ...rows));
}

function stepView(step: AttentionStep, prefix = 'attention'): HTMLElement {
  return h(
    'div',
    { id: `${prefix}-step` },
    h('p', { class: 'vecline' }, `${step.source}. Query position ${step.query} (“${step.tokens[step.query]}”), d_k = ${step.dk}: q = `, h('code', { id: `${prefix}-q` }, `[${step.q.map(fmt).join(', ')}]`)),
    h('div', { class: 'scroll' }, stepTable(step, prefix)),
    h(
      'p',
      {},
      '⑤ weighted sum of the values: out = Σⱼ softmaxⱼ · vⱼ = ',
      h('code', { id: `${prefix}-out` }, `[${step.out.map(fmt).join(', ')}]`),
    ),
    h(
      'ol',
      { class: 'explain' },
      h('li', {}, 'Score: how well the query matches each key (a dot product).'),
      h('li', {}, `Scale by √d_k = ${Math.sqrt(step.dk).toFixed(3)}, so the scores do not grow with the head size and the softmax stays soft.`),
      h('li', {}, 'Mask: a token may not look at tokens after it (−∞ becomes a weight of 0).'),
      h('li', {}, 'Softmax: turn the scores into weights that are positive and add up to 1.'),
      h('li', {}, 'Weighted sum: the output is a blend of the value vectors, mostly of the ones with large weights.'),
    ),
  );
}

/** The text with each token shaded by how much the hovered (or focused) query token attends to it. */
function attendsOverText(tokens: string[], weights: number[][], prefix = 'attend'): HTMLElement {
  const spans = tokens.map((token, i) => h('span', { class: 'tok attend', tabindex: 0, 'data-query': i }, token));
  const note = h('p', { class: 'hint', id: `${prefix}-note` }, 'Hover or focus a token to see what it attends to.');
  const show = (query: number) => {
    spans.forEach((span, j) => {
      const w = weights[query][j];
      span.style.backgroundColor = `rgba(232, 89, 12, ${(0.1 + 0.9 * w).toFixed(3)})`;
      span.dataset.weight = w.toFixed(3);
      span.classList.toggle('query', j === query);
    });
    note.textContent = `“${tokens[query]}” attends to: ${tokens.map((t, j) => `${t} ${(weights[query][j] * 100).toFixed(0)}%`).slice(0, query + 1).join(', ')}`;
  };
  spans.forEach((span, i) => {
    span.addEventListener('mouseenter', () => show(i));
    span.addEventListener('focus', () => show(i));
  });
  return h('div', {}, h('p', { class: 'tokens', id: `${prefix}-text` }, ...spans), note);
}

export const attentionPanel: Panel = {
  id: 'attention',
  title: 'Attention',
  mount(section: HTMLElement, ctx: Ctx) {
    const model = h('div', {});
    const example = h('div', { id: 'attention-example' });
    section.append(
      ...intro(
        'Attention',
        'Each token asks a question (its query q) and every token up to it offers a key k and a value v. The match ' +
          'of the query with each key, scaled and turned into probabilities, says how much of each value to take. ' +
          'Every head does this with its own q, k and v, so heads can learn to look for different things.',
        'Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k + mask) · V',
      ),
      model,
      h('h3', {}, 'One attention computation, step by step'),
      example,
    );

    // The worked example: fixed small numbers, so the arithmetic can be followed by hand.
    const T = EXAMPLE_TOKENS.length;
    const rows = (seed: number) => {
      const flat = seededValues(T * EXAMPLE_DK, seed);
      return Array.from({ length: T }, (_, t) => flat.slice(t * EXAMPLE_DK, (t + 1) * EXAMPLE_DK));
    };
    const [Q, K, V] = [rows(11), rows(12), rows(13)];
    const exampleSource = 'worked example: made-up q, k, v (not from a model)';
    const querySelect = h(
      'select',
      { id: 'attention-query' },
      ...EXAMPLE_TOKENS.map((t, i) => h('option', { value: String(i), selected: i === T - 1 }, `${i}: ${t}`)),
    );
    const stepBody = h('div', {});
    const all = EXAMPLE_TOKENS.map((_, i) => attentionStep(exampleSource, EXAMPLE_TOKENS, Q[i], K, V, i));
    const weights = all.map((s) => s.weights);
    const draw = () => {
      const step = all[Number(querySelect.value)];
      window.tpAttentionStep = step;
      replace(stepBody, stepView(step));
    };
    querySelect.addEventListener('change', draw);
    // What the example is, and where the model's own numbers are (or how to get a model).
    const source = h('p', { class: 'notice', id: 'attention-source' });
    const describeSource = () => {
      const info = ctx.store.modelInfo;
      source.dataset.model = String(info !== null);
      replace(
        source,
        'A worked example with small made-up numbers for q, k and v, so every step can be checked by hand. ',
        info
          ? 'Your model’s own numbers, for the layer, head and query you pick, are in “Your model’s attention” above.'
          : 'Train a model (Training panel) or load one (Save & load) to see its own numbers in the same view above.',
      );
    };
    ctx.store.on('modelInfo', describeSource);
    describeSource();
    replace(
      example,
      source,
      attendsOverText(EXAMPLE_TOKENS, weights),
      h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'attention-query' }, 'Query token'), querySelect)),
      stepBody,
      heatmapFigure(weights.flat(), T, T, {
        caption: 'All the weights of this example: row = query, column = key. Above the diagonal is masked (0).',
        xLabel: 'key',
        yLabel: 'query',
        scale: 'sequential',
        range: [0, 1],
        valueLabel: 'weight',
        className: 'medium',
        id: 'attention-example-map',
        enlarge: true,
        rowLabels: EXAMPLE_TOKENS,
        colLabels: EXAMPLE_TOKENS,
      }),
    );
    draw();
    mountModelView(model, ctx, section);
  },
};

/** The model's own attention: a grid of heatmaps (one per layer and head), hover over the text, and the
 *  step-by-step view of a chosen layer, head and query with the model's numbers. */
function mountModelView(container: HTMLElement, ctx: Ctx, section: HTMLElement): void {
  const input = h('textarea', { id: 'att-text', rows: 2 });
  const run = h('button', { type: 'button', id: 'att-run' }, 'Show attention');
  const message = h('p', { class: 'message', id: 'att-message', role: 'status', 'aria-live': 'polite' });
  const grid = h('div', { id: 'att-grid', class: 'att-grid' });
  const layer = h('select', { id: 'att-layer' });
  const head = h('select', { id: 'att-head' });
  const query = h('select', { id: 'att-query-model' });
  const hover = h('div', {});
  const step = h('div', {});
  const controls = h(
    'div',
    { class: 'row', hidden: true },
    h('div', { class: 'field' }, h('label', { for: 'att-layer' }, 'Layer'), layer),
    h('div', { class: 'field' }, h('label', { for: 'att-head' }, 'Head'), head),
    h('div', { class: 'field' }, h('label', { for: 'att-query-model' }, 'Query token'), query),
  );
  replace(
    container,
    h('h3', {}, 'Your model’s attention'),
    h('label', { for: 'att-text' }, 'Text (cut to the model’s context)'),
    input,
    h('div', { class: 'row' }, run),
    message,
    grid,
    controls,
    hover,
    step,
  );
  let maps: AttentionMaps | null = null;
  const headWeights = (l: number, hd: number): number[][] => {
    const { t, nHead, att } = maps!;
    const base = (l * nHead + hd) * t * t;
    return Array.from({ length: t }, (_, i) => att.slice(base + i * t, base + (i + 1) * t));
  };
  const showDetail = async () => {
    if (!maps) return;
    const [l, hd, qi] = [Number(layer.value), Number(head.value), Number(query.value)];
    replace(hover, attendsOverText(maps.tokens, headWeights(l, hd), 'att-model'));
    try {
      const detail = await ctx.core.call('attentionDetail', input.value, l, hd, qi);
      window.tpModelAttentionStep = detail;
      replace(step, stepView(detail, 'att-model'));
    } catch (error) {
      replace(step, h('p', { class: 'notice', role: 'alert' }, errorMessage(error)));
    }
  };
  for (const select of [layer, head, query]) select.addEventListener('change', () => void showDetail());
  const noModel = h('p', { class: 'explain', id: 'att-no-model' }, 'No model yet: train one in the Training panel (or load one in Save & load), then its attention shows here.');
  container.insertBefore(noModel, input.previousElementSibling);
  /** The model the maps on screen belong to: another model's maps are cleared, not left looking current. */
  let drawnFor: unknown = null;
  const syncModel = () => {
    const info = ctx.store.modelInfo;
    noModel.hidden = info !== null;
    run.disabled = info === null;
    if (info !== drawnFor) {
      maps = null;
      grid.replaceChildren();
      controls.hidden = true;
      hover.replaceChildren();
      step.replaceChildren();
    }
  };
  ctx.store.on('modelInfo', syncModel);
  section.addEventListener('panel-shown', syncModel);
  run.addEventListener('click', async () => {
    run.disabled = true;
    message.textContent = '';
    drawnFor = ctx.store.modelInfo;
    try {
      maps = await ctx.core.call('attention', input.value);
      window.tpModelAttention = maps;
      const { nLayer, nHead, t, tokens } = maps;
      replace(
        grid,
        ...Array.from({ length: nLayer }, (_, l) =>
          h(
            'div',
            { class: 'att-row' },
            h('span', { class: 'att-row-label' }, `layer ${l}`),
            ...Array.from({ length: nHead }, (_, hd) =>
              heatmapFigure(headWeights(l, hd).flat(), t, t, {
                caption: `layer ${l}, head ${hd}`,
                xLabel: 'key',
                yLabel: 'query',
                scale: 'sequential',
                range: [0, 1],
                valueLabel: 'weight',
                className: 'thumb',
                id: `att-l${l}-h${hd}`,
                enlarge: true,
                // Too small for a label per token: the names are in the hover read-out and the enlarged copy.
                tickLabels: 'enlarged',
                rowLabels: tokens,
                colLabels: tokens,
              }),
            ),
          ),
        ),
      );
      grid.append(legend('sequential', 0, 1, 'attention weight (each row sums to 1)'));
      const options = (n: number, label: (i: number) => string) => Array.from({ length: n }, (_, i) => h('option', { value: String(i) }, label(i)));
      replace(layer, ...options(nLayer, String));
      replace(head, ...options(nHead, String));
      replace(query, ...options(t, (i) => `${i}: ${tokens[i]}`));
      query.value = String(t - 1);
      controls.hidden = false;
      await showDetail();
    } catch (error) {
      message.textContent = errorMessage(error);
      message.dataset.kind = 'error';
    } finally {
      run.disabled = ctx.store.modelInfo === null;
    }
  });
  syncModel();
  const fill = () => {
    if (!input.value && ctx.store.corpus) input.value = ctx.store.corpus.text.slice(0, 48);
  };
  ctx.store.on('corpus', fill);
  fill();
}
