// The Embeddings panel: every token's learned vector, projected on the two directions along which the vectors
// differ most (PCA), redrawn while the model trains so you can watch related tokens drift together. The map
// can be read at any size: labels never overlap (the frequent tokens get theirs first), hover says which token
// a point is (id, count in the corpus), the wheel, a pinch or the keys zoom and move, a search finds a token,
// and tokens the corpus never uses (most of the 256 byte tokens of a BPE) are left out unless asked for.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro } from '../ctx';
import { errorMessage, formatCount } from '../format';
import { pca2, type Pca2 } from '../pca';
import { ScatterView } from '../scatter';
import type { CorpusState, TokenizerState } from '../state';

declare global {
  interface Window {
    tpEmbeddings?: {
      /** The tokens on the map (ids, labels, counts in the corpus) and their vectors, in map order. */
      ids: number[];
      labels: string[];
      counts: (number | null)[];
      wte: number[];
      vocab: number;
      nEmbd: number;
      pca: Pca2;
      draws: number;
      /** Tokens left out because the corpus never uses them. */
      hiddenUnused: number;
    };
    /** The map itself (view, points on screen, labels drawn), for tests. */
    tpEmbeddingsMap?: ScatterView;
  }
}

const REFRESH_MS = 400;
/** Larger vocabularies are cut to their most frequent tokens, to keep the projection quick. */
const MAX_POINTS = 2000;
/** Matches a search highlights at most. */
const MAX_MATCHES = 50;

/** How the page shows a typed search text: a space as ␣, a newline as \n (as tokens are shown). */
function asShown(text: string): string {
  return text.replaceAll(' ', '␣').replaceAll('\n', '\\n').replaceAll('\t', '\\t');
}

export const embeddingsPanel: Panel = {
  id: 'embeddings',
  title: 'Embeddings',
  mount(section: HTMLElement, ctx: Ctx) {
    const body = h('div', {});
    let shown: { ids: number[]; labels: string[]; counts: (number | null)[] } = { ids: [], labels: [], counts: [] };
    const describe = (i: number) => {
      const count = shown.counts[i];
      const uses =
        count === null ? 'its count in the corpus is not known' : count === 0 ? 'never in the corpus' : count === 1 ? 'once in the corpus' : `${formatCount(count)} times in the corpus`;
      return `“${shown.labels[i]}” · id ${shown.ids[i]} · ${uses}`;
    };
    const map = new ScatterView('embeddings-scatter', 'Token embeddings on their two main directions (PCA).', describe);
    window.tpEmbeddingsMap = map;
    const note = h('p', { class: 'hint', id: 'embeddings-note' });
    const search = h('input', { type: 'search', id: 'emb-search', placeholder: 'a token, e.g. the', autocomplete: 'off', spellcheck: 'false' });
    const searchNote = h('p', { class: 'hint', id: 'emb-search-note', 'aria-live': 'polite' });
    const showUnused = h('input', { type: 'checkbox', id: 'emb-unused' });
    const tools = h(
      'div',
      { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'emb-search' }, 'Find a token'), search),
      h('label', { for: 'emb-unused', class: 'compact' }, showUnused, 'Show tokens the corpus never uses'),
    );
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

    // How often each token occurs in the corpus, asked for again when the tokenizer or the corpus changes.
    let counts: { tokenizer: TokenizerState | null; corpus: CorpusState | null; values: number[] | null } | null = null;
    const corpusCounts = async (): Promise<number[] | null> => {
      const { tokenizer, corpus } = ctx.store;
      if (counts && counts.tokenizer === tokenizer && counts.corpus === corpus) return counts.values;
      let values: number[] | null = null;
      if (tokenizer && corpus && corpus.text.length > 0) values = await ctx.core.call('tokenCounts', corpus.text).catch(() => null);
      counts = { tokenizer, corpus, values };
      return values;
    };

    const applySearch = (focus: boolean) => {
      const query = asShown(search.value);
      if (!query) {
        searchNote.textContent = '';
        map.setHighlight([]);
        return;
      }
      const exact = shown.labels.flatMap((label, i) => (label === query ? [i] : []));
      const partial = shown.labels.flatMap((label, i) => (label !== query && label.includes(query) ? [i] : []));
      const matches = [...exact, ...partial].slice(0, MAX_MATCHES);
      map.setHighlight(matches);
      if (matches.length === 0) {
        const hidden = window.tpEmbeddings && !showUnused.checked && window.tpEmbeddings.hiddenUnused > 0;
        searchNote.textContent = `No token on the map contains “${query}”${hidden ? ' (tokens the corpus never uses are hidden: tick the box to show them)' : ''}.`;
        return;
      }
      const more = exact.length + partial.length - matches.length;
      searchNote.textContent =
        `${exact.length + partial.length} token${exact.length + partial.length === 1 ? '' : 's'} match “${query}”: ` +
        matches.slice(0, 8).map((i) => `${shown.labels[i]} (id ${shown.ids[i]})`).join(', ') +
        (matches.length > 8 || more > 0 ? ', …' : '') +
        '. Press Enter to zoom to the first.';
      if (focus) map.focusPoint(matches[0]);
    };
    search.addEventListener('input', () => applySearch(false));
    search.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      applySearch(true);
    });

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
        const [view, used] = await Promise.all([ctx.core.call('embeddings'), corpusCounts()]);
        const usable = used?.length === view.vocab ? used : null;
        let ids = Array.from({ length: view.vocab }, (_, id) => id);
        const hiddenUnused = usable && !showUnused.checked ? ids.filter((id) => usable[id] === 0).length : 0;
        if (usable && !showUnused.checked) ids = ids.filter((id) => usable[id] > 0);
        if (ids.length > MAX_POINTS) ids = [...ids].sort((a, b) => (usable?.[b] ?? 0) - (usable?.[a] ?? 0) || a - b).slice(0, MAX_POINTS).sort((a, b) => a - b);
        const C = view.nEmbd;
        const wte = ids.flatMap((id) => view.wte.slice(id * C, (id + 1) * C));
        const pca = pca2(wte, ids.length, C);
        shown = { ids, labels: ids.map((id) => view.labels[id]), counts: ids.map((id) => usable?.[id] ?? null) };
        draws++;
        window.tpEmbeddings = { ...shown, wte, vocab: view.vocab, nEmbd: C, pca, draws, hiddenUnused };
        if (!body.contains(map.figure)) replace(body, tools, searchNote, map.figure, note);
        map.setData({ points: pca.points, labels: shown.labels, priority: shown.counts.map((c) => c ?? 0) });
        if (search.value) applySearch(false);
        const share = ((pca.variances[0] + pca.variances[1]) / Math.max(1e-12, pca.total)) * 100;
        const left = view.vocab - ids.length;
        const leftOut = left === 0 ? '' : hiddenUnused > 0 ? ` (${formatCount(hiddenUnused)} never used by the corpus are left out${left > hiddenUnused ? `, and the ${formatCount(left - hiddenUnused)} rarest` : ''})` : ` (the ${formatCount(left)} rarest left out)`;
        note.textContent =
          `${formatCount(ids.length)} of ${formatCount(view.vocab)} tokens${leftOut}, ${C} dimensions; the two directions hold ${share.toFixed(0)}% of the variance. ` +
          `${map.placed.length < ids.length ? 'Labels that would overlap are left out: zoom in to see more. ' : ''}${ctx.store.training ? 'Updating while the model trains…' : ''}`;
      } catch (error) {
        replace(body, h('p', { class: 'notice', role: 'alert' }, errorMessage(error)));
      } finally {
        busy = false;
      }
    };
    showUnused.addEventListener('change', () => void refresh());
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
    ctx.store.on('tokenizer', () => void refresh());
    ctx.store.on('corpus', () => void refresh());
  },
};
