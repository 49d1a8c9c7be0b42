// The Positional encoding panel. Attention by itself does not know the order of tokens, so each position gets
// a vector added to its token's vector. The sinusoidal one is a fixed formula, drawn here for the model's
// context and width; learned positions and RoPE depend on a model.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro } from '../ctx';
import { heatmapFigure } from '../heatmap';
import { errorMessage } from '../format';
import { cosineSimilarity, pca2, type Pca2 } from '../pca';
import { drawScatter, scatterFigure } from '../scatter';

declare global {
  interface Window {
    tpSinusoidal?: { positions: number; dims: number; values: number[]; similarity: number[]; pca: Pca2 };
    tpLearnedSimilarity?: { positions: number; dims: number; vectors: number[]; similarity: number[] };
  }
}

/** PE (T, C): PE[pos, 2i] = sin(pos / 10000^(2i/C)), PE[pos, 2i+1] = cos(pos / 10000^(2i/C)). */
export function sinusoidal(positions: number, dims: number): Float32Array {
  const pe = new Float32Array(positions * dims);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; i < dims; i += 2) {
      const angle = pos / Math.pow(10000, i / dims);
      pe[pos * dims + i] = Math.sin(angle);
      if (i + 1 < dims) pe[pos * dims + i + 1] = Math.cos(angle);
    }
  }
  return pe;
}

export const positionsPanel: Panel = {
  id: 'positions',
  title: 'Positions',
  mount(section: HTMLElement, ctx: Ctx) {
    const body = h('div', { id: 'sinusoidal-body' });
    const similarity = h('div', { id: 'sinusoidal-similarity' });
    const scatter = scatterFigure('positions-pca', 'Every position vector projected on its two main directions (PCA); color runs from the first position (blue) to the last (red).');
    const learned = h('div', {});
    section.append(
      ...intro(
        'Positional encoding',
        'Attention compares tokens with each other but, by itself, cannot tell first from last. Positional ' +
          'encoding adds a vector that depends on the position to every token. The sinusoidal one uses waves of ' +
          'many wavelengths: the first dimensions change quickly from position to position, the last ones slowly, ' +
          'so every position gets a distinct pattern and nearby positions get similar ones.',
        'PE(pos, 2i) = sin(pos / 10000^(2i/d_model))    PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))',
      ),
      h('h3', {}, 'Sinusoidal'),
      body,
      h('h3', {}, 'How similar is each position to each other one?'),
      h('p', { class: 'explain' }, 'The cosine similarity of the sinusoidal vectors of two positions depends only on how far apart they are, which is what lets attention find “the token 3 back” anywhere in the text.'),
      h('div', { class: 'pair' }, similarity, scatter.figure),
      h('h3', {}, 'Learned positions'),
      learned,
    );
    const draw = () => {
      const { blockSize: context, nEmbd: dModel } = ctx.store.model;
      const values = sinusoidal(context, dModel);
      const sim = cosineSimilarity(values, context, dModel);
      const pca = pca2(values, context, dModel);
      window.tpSinusoidal = { positions: context, dims: dModel, values: Array.from(values), similarity: Array.from(sim), pca };
      replace(
        similarity,
        heatmapFigure(sim, context, context, {
          caption: 'cos(PE[i], PE[j])',
          xLabel: 'position j',
          yLabel: 'position i',
          valueLabel: 'cosine similarity',
          range: [-1, 1],
          className: 'medium',
          id: 'similarity-figure',
          enlarge: true,
        }),
      );
      requestAnimationFrame(() => drawScatter(scatter.canvas, pca.points, pca.points.map((_, i) => (i % 4 === 0 ? String(i) : '')), true));
      replace(
        body,
        heatmapFigure(values, context, dModel, {
          caption: `Sinusoidal encoding for context ${context} and d_model ${dModel} (from the Model panel).`,
          xLabel: 'dimension',
          yLabel: 'position',
          valueLabel: 'PE value',
          range: [-1, 1],
          className: 'large',
          id: 'sinusoidal-figure',
          enlarge: true,
        }),
      );
    };
    ctx.store.on('model', () => {
      if (!section.hidden) draw();
    });
    section.addEventListener('panel-shown', draw);
    const drawLearned = async () => {
      if (section.hidden) return;
      const info = ctx.store.modelInfo;
      if (!info || info.config.positional !== 'learned') {
        replace(learned, h('p', { class: 'explain', id: 'learned-empty' }, 'Train (or load) a model with learned positions to see how similar its position vectors became.'));
        return;
      }
      try {
        const view = await ctx.core.call('embeddings');
        const T = info.config.blockSize;
        const C = view.nEmbd;
        if (view.positions.length !== T * C) return;
        const sim = cosineSimilarity(view.positions, T, C);
        window.tpLearnedSimilarity = { positions: T, dims: C, vectors: view.positions, similarity: Array.from(sim) };
        replace(
          learned,
          h('p', { class: 'explain' }, 'The learned vectors start random; training makes neighbouring positions similar where the text needs it.'),
          heatmapFigure(sim, T, T, {
            caption: 'cos(wpe[i], wpe[j]) of your model',
            xLabel: 'position j',
            yLabel: 'position i',
            valueLabel: 'cosine similarity',
            range: [-1, 1],
            className: 'medium',
            id: 'learned-figure',
            enlarge: true,
          }),
        );
      } catch (error) {
        replace(learned, h('p', { class: 'notice', role: 'alert' }, errorMessage(error)));
      }
    };
    section.addEventListener('panel-shown', () => void drawLearned());
    ctx.store.on('modelInfo', () => void drawLearned());
  },
};
