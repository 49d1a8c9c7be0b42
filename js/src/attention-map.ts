// <attention-map>: the attention grid of a small model for a text, layer and head picked by the reader.
//
//   <attention-map corpus="copy" text="copy abc7d > abc7d" steps="200"></attention-map>
//   <attention-map model-src="/models/copy.safetensors" text="copy abc > abc" layer="1" head="0"></attention-map>
//
// Attributes: text, corpus (default 'copy'), tokenizer ('char' | 'bpe:<n>'), config (JSON ModelConfig),
// model-src (a safetensors file saved by model.save(); no training then), steps (training steps, default 200),
// layer, head, seed, corpus-bytes. Events: progress (TrainProgress), trained (TrainResult), error.
// Properties: model (the Model, read only), maps (the last AttentionMaps).
import { drawHeatmap, heatmapStyle } from './heatmap.js';
import type { AttentionMaps, Model } from './model.js';
import { define, PlaygroundElement } from './widget-base.js';
import { buildModel, freeModel, MODEL_CSS, readInteger, readRecipe, type BuiltModel, type ModelRecipe } from './widget-model.js';

const CSS = `${MODEL_CSS}
progress { display: block; margin-block: 0.3em; }
`;

export class AttentionMap extends PlaygroundElement {
  static observedAttributes = ['text', 'corpus', 'tokenizer', 'config', 'model-src', 'steps', 'layer', 'head', 'seed', 'corpus-bytes', 'backend'];

  #built: BuiltModel | null = null;
  #job: { key: string; controller: AbortController; done: Promise<BuiltModel> } | null = null;
  #maps: AttentionMaps | null = null;
  #resize: ResizeObserver | null = null;
  #width = 0;

  constructor() {
    super(CSS);
  }

  get model(): Model | null {
    return this.#built?.model ?? null;
  }
  get maps(): AttentionMaps | null {
    return this.#maps;
  }
  get text(): string {
    return this.getAttribute('text') ?? '';
  }
  set text(value: string) {
    this.setAttribute('text', value);
  }
  get layer(): number {
    return Number(this.getAttribute('layer') ?? 0);
  }
  set layer(value: number) {
    this.setAttribute('layer', String(value));
  }
  get head(): number {
    return Number(this.getAttribute('head') ?? 0);
  }
  set head(value: number) {
    this.setAttribute('head', String(value));
  }

  override connectedCallback(): void {
    // Redraw at the container's width (without retraining) when the page reflows.
    this.#resize = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (width > 0 && width !== this.#width) {
        this.#width = width;
        this.#draw();
      }
    });
    this.#resize.observe(this);
    super.connectedCallback();
  }

  protected async update(signal: AbortSignal): Promise<void> {
    const recipe = readRecipe(this, 'copy');
    const steps = readInteger(this, 'steps', 200, 0, 100_000);
    const key = JSON.stringify({ recipe, steps });
    // Training is a job of its own: a change of text, layer or head waits for it instead of restarting it.
    if (!this.#job || this.#job.key !== key) {
      this.#stopJob();
      const controller = new AbortController();
      this.#job = { key, controller, done: this.#train(recipe, steps, controller.signal) };
    }
    const built = await this.#job.done;
    if (signal.aborted) return;
    await this.#show(built.model);
  }

  async #train(recipe: ModelRecipe, steps: number, signal: AbortSignal): Promise<BuiltModel> {
    const status = this.#statusLine('preparing the model…');
    const bar = document.createElement('progress');
    bar.max = Math.max(steps, 1);
    bar.value = 0;
    this.root.replaceChildren(status, bar);
    const built = await buildModel(recipe, signal);
    this.#built = built;
    if (built.text !== null && steps > 0) {
      status.textContent = `training ${built.model.paramCount.toLocaleString('en')} parameters on '${recipe.corpus}'…`;
      const result = await built.model.train({
        text: built.text,
        steps,
        batchSize: 8,
        lr: 3e-3,
        evalInterval: 0,
        signal,
        onProgress: (p) => {
          bar.value = p.done;
          status.textContent = `training on '${recipe.corpus}': step ${p.done} of ${p.total}, loss ${p.loss.toFixed(3)}`;
          this.emit('progress', p);
        },
      });
      this.emit('trained', result);
    }
    return built;
  }

  #stopJob(): void {
    this.#job?.controller.abort();
    this.#job = null;
    freeModel(this.#built);
    this.#built = null;
    this.#maps = null;
  }

  async #show(model: Model): Promise<void> {
    const text = this.text;
    if (!text) {
      this.#maps = null;
      this.root.replaceChildren(this.#statusLine('give the text attribute some text to see its attention'));
      return;
    }
    const t = model.config.blockSize;
    const ids = model.tokenizer!.encode(text);
    const shown = ids.length > t ? ids.subarray(0, t) : ids;
    this.#maps = await model.attention(shown);
    const { nLayer, nHead } = this.#maps;
    const layer = readInteger(this, 'layer', 0, 0, nLayer - 1);
    const head = readInteger(this, 'head', 0, 0, nHead - 1);

    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.append(this.#picker('layer', nLayer, layer), this.#picker('head', nHead, head));
    const note = this.#statusLine(
      ids.length > t ? `the first ${t} of ${ids.length} tokens (the model's context)` : `${ids.length} tokens; row = query, column = key`,
    );
    bar.append(note);
    const canvas = document.createElement('canvas');
    canvas.part.add('grid');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `attention of layer ${layer}, head ${head} over ${shown.length} tokens`);
    this.root.replaceChildren(bar, canvas);
    this.#draw();
  }

  #picker(name: 'layer' | 'head', count: number, value: number): HTMLLabelElement {
    const label = document.createElement('label');
    label.textContent = name;
    const select = document.createElement('select');
    select.name = name;
    for (let i = 0; i < count; i++) select.add(new Option(String(i), String(i), false, i === value));
    select.addEventListener('change', () => this.setAttribute(name, select.value));
    label.append(select);
    return label;
  }

  #draw(): void {
    const canvas = this.root.querySelector('canvas');
    const maps = this.#maps;
    if (!canvas || !maps) return;
    const layer = Math.min(Math.max(this.layer | 0, 0), maps.nLayer - 1);
    const head = Math.min(Math.max(this.head | 0, 0), maps.nHead - 1);
    const width = this.#width || this.clientWidth || 320;
    drawHeatmap(canvas, maps.head(layer, head), maps.tokens.map((token) => token.text), Math.min(width, 640), heatmapStyle(this));
  }

  #statusLine(text: string): HTMLDivElement {
    const line = document.createElement('div');
    line.className = 'status';
    line.textContent = text;
    return line;
  }

  protected release(): void {
    this.#resize?.disconnect();
    this.#resize = null;
    this.#stopJob();
  }
}

define('attention-map', AttentionMap);

declare global {
  interface HTMLElementTagNameMap {
    'attention-map': AttentionMap;
  }
}
