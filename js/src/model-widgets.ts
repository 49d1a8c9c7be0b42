// <attention-map> and <transformer-playground>: they train and inspect a model, so they need the model API of
// the core (CpuModel / GpuModel). Until the core has it, they register and say so instead of faking it.
import { PlaygroundError } from './errors.js';
import { define, PlaygroundElement } from './widget-base.js';

const NEEDS_MODEL =
  'needs the model API of the transformer-playground core (CpuModel / GpuModel), which this build does not have yet';

abstract class NeedsModel extends PlaygroundElement {
  constructor() {
    super('');
  }

  protected async update(): Promise<void> {
    throw new PlaygroundError(`<${this.localName}> ${NEEDS_MODEL}`);
  }

  protected release(): void {}
}

/** The attention grid of a model for a text (attributes: text, corpus, config, model-src, steps). */
export class AttentionMap extends NeedsModel {
  static observedAttributes = ['text', 'corpus', 'config', 'model-src', 'steps', 'layer', 'head'];
}

/** The whole playground in a box (attributes: corpus, config, model-src, steps, autoplay). */
export class TransformerPlaygroundElement extends NeedsModel {
  static observedAttributes = ['corpus', 'config', 'model-src', 'steps', 'autoplay'];
}

define('attention-map', AttentionMap);
define('transformer-playground', TransformerPlaygroundElement);

declare global {
  interface HTMLElementTagNameMap {
    'attention-map': AttentionMap;
    'transformer-playground': TransformerPlaygroundElement;
  }
}
