// The custom elements, registered on import. One file for any page, no bundler:
//   <script type="module" src="https://your.site/transformer-playground/lib/widgets.js"></script>
// or from the package: import 'transformer-playground/widgets';
export { TokenView, parseTokenizerSpec } from './token-view.js';
export { AttentionMap } from './attention-map.js';
export { TransformerPlaygroundElement } from './playground-element.js';
export type { WidgetState } from './widget-base.js';
export { PlaygroundElement } from './widget-base.js';
