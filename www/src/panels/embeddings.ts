// The Embeddings panel: every token's learned vector, projected on the two directions along which the vectors
// differ most (PCA), redrawn while the model trains so you can watch related tokens drift together.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro } from '../ctx';
import { errorMessage } from '../format';
import { pca2, type Pca2 } from '../pca';
import { drawScatter, scatterFigure } from '../scatter';

declare global {
  interface Window {
    tpEmbeddings?: { labels: string[]; wte: number[]; vocab: number; nEmbd: number; pca: Pca2; draws: number };
  }
}

const REFRESH_MS = 400;
/** Larger vocabularies are cut to their first tokens (bytes and the earliest merges), to keep the map readable. */
const MAX_POINTS = 600;

export const embeddingsPanel: Panel = {
  id: 'embeddings',
  title: 'Embeddings',
  mount(section: HTMLElement, ctx: Ctx) {
    const body = h('div', {});
    const scatter = scatterFigure('embeddings-scatter', 'Token embeddings on their two main directions (PCA).');
    const note = h('p', { class: 'hint', id: 'embeddings-note' });
    section.append(
      ...intro(
        'Embeddings',
        'Every token is a vector of d_model numbers that the model learns. Tokens used alike drift close together. ' +
          'The map projects the vectors onto the two directions along which they differ most (principal component ' +
          'analysis), so you can watch them move as the model trains.',
        'X − mean → the two top eigenvectors u₁, u₂ of its covariance;   token i at (xᵢ·u₁, xᵢ·u₂)',
      ),
      body,
    );
    let draws = 0;
    let busy = false;
    const refresh = async () => {
      if (busy || section.hidden) return;
      if (!ctx.store.modelInfo && !ctx.store.training) {
        replace(body, h('p', { class: 'explain', id: 'embeddings-empty' }, 'No model yet: train one in the Training panel and come back (or keep this panel open while it trains).'));
        return;
      }
      if (ctx.store.training && ctx.store.backend === 'webgpu') {
        replace(body, h('p', { class: 'explain', id: 'embeddings-empty' }, 'This model trains on WebGPU: the map shows its embeddings when a run ends or pauses (the weights are copied to the CPU then). Train on the CPU (“Run on”) to watch them move step by step.'));
        return;
      }
      busy = true;
      try {
        const view = await ctx.core.call('embeddings');
        const n = Math.min(view.vocab, MAX_POINTS);
        const pca = pca2(view.wte, n, view.nEmbd);
        draws++;
        window.tpEmbeddings = { labels: view.labels.slice(0, n), wte: view.wte.slice(0, n * view.nEmbd), vocab: view.vocab, nEmbd: view.nEmbd, pca, draws };
        if (!body.contains(scatter.figure)) replace(body, scatter.figure, note);
        drawScatter(scatter.canvas, pca.points, view.labels.slice(0, n));
        const shown = ((pca.variances[0] + pca.variances[1]) / Math.max(1e-12, pca.total)) * 100;
        note.textContent = `${n} of ${view.vocab} tokens, ${view.nEmbd} dimensions; the two directions hold ${shown.toFixed(0)}% of the variance.${ctx.store.training ? ' Updating while the model trains…' : ''}`;
      } catch (error) {
        replace(body, h('p', { class: 'notice', role: 'alert' }, errorMessage(error)));
      } finally {
        busy = false;
      }
    };
    let timer = 0;
    const schedule = () => {
      clearInterval(timer);
      if (ctx.store.training && !section.hidden) timer = window.setInterval(() => void refresh(), REFRESH_MS);
    };
    section.addEventListener('panel-shown', () => {
      void refresh();
      schedule();
    });
    ctx.store.on('training', () => {
      schedule();
      void refresh();
    });
    ctx.store.on('modelInfo', () => void refresh());
  },
};
