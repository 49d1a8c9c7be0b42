// Panels whose core API (the model) has not landed in this build: each explains its idea and formula now and
// shows a clear "coming soon" until the wasm module offers the model.
import { h, replace } from '../dom';
import { type Ctx, type Panel, comingSoon, intro } from '../ctx';

function waiting(id: string, title: string, explain: string, formula: string, what: string): Panel {
  return {
    id,
    title,
    mount(section: HTMLElement, ctx: Ctx) {
      const body = h('div', {});
      section.append(...intro(title, explain, formula), body);
      ctx.store.on('caps', (caps) => {
        if (!caps.cpuModel) replace(body, comingSoon(what, id));
      });
    },
  };
}

export const embeddingsPanel = waiting(
  'embeddings',
  'Embeddings',
  'Every token is a vector of d_model numbers that the model learns. Tokens used alike drift close together. ' +
    'The scatter projects the vectors onto their two main directions (PCA) so you can watch them move as the model trains.',
  'X − mean → its two top principal directions u₁, u₂;   token i at (xᵢ·u₁, xᵢ·u₂)',
  'A live 2-D map of the token embeddings.',
);
