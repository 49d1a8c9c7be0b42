// <attention-map>: the attention grid of a small model for a text, layer and head picked by the reader.
//
//   <attention-map corpus="copy" text="copy abc7d > abc7d" steps="200"></attention-map>
//   <attention-map model-src="/models/copy.safetensors" text="copy abc > abc" layer="1" head="0"></attention-map>
//
//   <attention-map task="reverse" text="abcdefgh" steps="300"></attention-map>   (cross-attention)
//
// Attributes: text, corpus (default 'copy'), tokenizer ('char' | 'bpe:<n>'), config (JSON ModelConfig),
// model-src (a safetensors file saved by model.save(); no training then), steps (training steps, default 200),
// layer, head, seed, corpus-bytes. Events: progress (TrainProgress), trained (TrainResult), error.
// Properties: model (the Model, read only), maps (the last AttentionMaps).
// With `task` (a seq2seq task: copy, reverse, sort, addition, translate) it trains an encoder-decoder on the CPU
// and shows, for the source `text` and the decoder's `target` (default: the model's own output), the
// cross-attention (`kind="cross"`, the default: rows = target tokens, columns = source tokens), or the
// encoder's or the decoder's self-attention (`kind="encoder"` / `"decoder"`); `seq2seqModel` and
// `seq2seqMaps` hold the model and the last Seq2SeqAttention.
import { drawHeatmap, heatmapStyle } from './heatmap.js';
import { createModel, type AttentionMaps, type Model } from './model.js';
import type { Seq2SeqAttention, Seq2SeqModel, Seq2SeqTaskName } from './seq2seq.js';
import { define, PlaygroundElement } from './widget-base.js';
import { buildModel, freeModel, MODEL_CSS, readInteger, readRecipe, type BuiltModel, type ModelRecipe } from './widget-model.js';

/** Training an encoder-decoder for the `task` attribute. */
type Seq2SeqJob = { key: string; controller: AbortController; done: Promise<Seq2SeqModel>; model: Seq2SeqModel | null };

const CSS = `${MODEL_CSS}
progress { display: block; margin-block: 0.3em; }
`;

export class AttentionMap extends PlaygroundElement {
  static observedAttributes = ['text', 'corpus', 'tokenizer', 'config', 'model-src', 'steps', 'layer', 'head', 'seed', 'corpus-bytes', 'backend', 'task', 'target', 'kind'];

  #built: BuiltModel | null = null;
  #job: { key: string; controller: AbortController; done: Promise<BuiltModel> } | null = null;
  #maps: AttentionMaps | null = null;
  #s2s: Seq2SeqJob | null = null;
  #cross: Seq2SeqAttention | null = null;
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
  get seq2seqModel(): Seq2SeqModel | null {
    return this.#s2s?.model ?? null;
  }
  get seq2seqMaps(): Seq2SeqAttention | null {
    return this.#cross;
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
    const task = this.getAttribute('task');
    if (task) return this.#updateSeq2seq(task, signal);
    this.#stopSeq2seq();
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

  async #updateSeq2seq(task: string, signal: AbortSignal): Promise<void> {
    this.#stopJob();
    const steps = readInteger(this, 'steps', 200, 0, 100_000);
    const seed = readInteger(this, 'seed', 1, 0, 0xffffffff);
    const raw = this.getAttribute('config');
    const config = raw ? (JSON.parse(raw) as Record<string, unknown>) : { nLayer: 2, nHead: 2, nEmbd: 32 };
    const key = JSON.stringify({ task, steps, seed, config });
    if (!this.#s2s || this.#s2s.key !== key) {
      this.#stopSeq2seq();
      const controller = new AbortController();
      const job: Seq2SeqJob = { key, controller, model: null, done: null as unknown as Promise<Seq2SeqModel> };
      job.done = (async () => {
        const status = this.#statusLine('preparing the encoder-decoder…');
        const bar = document.createElement('progress');
        bar.max = Math.max(steps, 1);
        this.root.replaceChildren(status, bar);
        const model = await createModel({ config: { ...config, objective: 'seq2seq' }, task: task as Seq2SeqTaskName, seed, backend: 'cpu' });
        job.model = model;
        if (controller.signal.aborted) throw new Error('superseded');
        const result = await model.train({
          steps,
          evalInterval: 0,
          signal: controller.signal,
          onProgress: (p) => {
            bar.value = p.done;
            status.textContent = `training an encoder-decoder on '${task}': step ${p.done} of ${p.total}, loss ${p.loss.toFixed(3)}`;
            this.emit('progress', p);
          },
        });
        this.emit('trained', result);
        return model;
      })();
      this.#s2s = job;
    }
    const model = await this.#s2s.done;
    if (signal.aborted) return;
    const text = this.text;
    if (!text) {
      this.#cross = null;
      this.root.replaceChildren(this.#statusLine('give the text attribute a source to see its cross-attention'));
      return;
    }
    const target = this.getAttribute('target');
    this.#cross = await model.attention(text, target ?? undefined);
    const { nLayer, nHead } = this.#cross;
    const layer = readInteger(this, 'layer', 0, 0, nLayer - 1);
    const head = readInteger(this, 'head', 0, 0, nHead - 1);
    const kind = this.#kind();
    const bar = document.createElement('div');
    bar.className = 'bar';
    const rows = kind === 'cross' ? 'row = target token, column = source token' : 'row = query, column = key';
    bar.append(this.#picker('layer', nLayer, layer), this.#picker('head', nHead, head), this.#statusLine(`${kind === 'cross' ? 'cross-attention' : `${kind} self-attention`}; ${rows}`));
    const canvas = document.createElement('canvas');
    canvas.part.add('grid');
    canvas.setAttribute('role', 'img');
    const [r, c] = this.#seq2seqGrid(this.#cross, kind, layer, head).slice(1) as [string[], string[]];
    canvas.setAttribute('aria-label', `${kind === 'cross' ? 'cross-attention' : `${kind} self-attention`} of layer ${layer}, head ${head}: ${r.length} by ${c.length}`);
    this.root.replaceChildren(bar, canvas);
    this.#draw();
  }

  #kind(): 'cross' | 'encoder' | 'decoder' {
    const kind = (this.getAttribute('kind') ?? 'cross').trim() || 'cross';
    if (kind !== 'cross' && kind !== 'encoder' && kind !== 'decoder') throw new Error(`the kind attribute must be 'cross', 'encoder' or 'decoder' (got '${kind}')`);
    return kind;
  }

  #seq2seqGrid(a: Seq2SeqAttention, kind: 'cross' | 'encoder' | 'decoder', layer: number, head: number): [Float32Array, string[], string[]] {
    if (kind === 'cross') return [a.crossHead(layer, head), a.outputTokens, a.sourceTokens];
    if (kind === 'encoder') return [a.encoderHead(layer, head), a.sourceTokens.slice(0, a.sourceLength), a.sourceTokens];
    return [a.decoderHead(layer, head), a.decoderTokens, a.decoderTokens];
  }

  #stopSeq2seq(): void {
    if (!this.#s2s) return;
    const job = this.#s2s;
    this.#s2s = null;
    this.#cross = null;
    job.controller.abort();
    job.done.then(
      (m) => m.dispose(),
      () => job.model?.dispose(),
    );
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
    const cross = this.#cross;
    if (canvas && cross && this.getAttribute('task')) {
      const layer = Math.min(Math.max(this.layer | 0, 0), cross.nLayer - 1);
      const head = Math.min(Math.max(this.head | 0, 0), cross.nHead - 1);
      const [grid, rows, cols] = this.#seq2seqGrid(cross, this.#kind(), layer, head);
      drawHeatmap(canvas, grid, rows, Math.min(this.#width || this.clientWidth || 320, 640), heatmapStyle(this), cols);
      return;
    }
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
    this.#stopSeq2seq();
  }
}

define('attention-map', AttentionMap);

declare global {
  interface HTMLElementTagNameMap {
    'attention-map': AttentionMap;
  }
}
