// <transformer-playground>: the whole playground in a box: train a small model on a corpus, watch the loss,
// generate text from a prompt, and see where the model looks.
//
//   <transformer-playground corpus="stories" steps="300" autoplay></transformer-playground>
//
// Attributes: corpus (default 'stories'), tokenizer ('char' | 'bpe:<n>'), config (JSON ModelConfig), model-src
// (a safetensors file from model.save()), steps (per press of Train, default 300), autoplay (train at once),
// prompt (default 'Once upon a time'), max-tokens (default 200), temperature (default 0.8), seed, corpus-bytes.
// Methods: train(), pause(), resume(), generate(). Properties: model (read only), output (the last generated text).
// Events: progress (TrainProgress), trained (TrainResult), generated ({ text }), error ({ message, error }).
import { abortError, isAbort, messageOf } from './errors.js';
import { drawHeatmap, heatmapStyle } from './heatmap.js';
import type { Model, TrainResult } from './model.js';
import { define, PlaygroundElement } from './widget-base.js';
import { buildModel, freeModel, MODEL_CSS, readInteger, readRecipe, type BuiltModel } from './widget-model.js';

const CSS = `${MODEL_CSS}
.prompt { display: flex; gap: 0.5em; margin-block: 0.6em 0.3em; }
.prompt input { flex: 1; min-inline-size: 0; }
.output { white-space: pre-wrap; word-break: break-word; margin: 0; min-block-size: 3lh; padding: 0.4em;
  border: 1px dashed var(--tp-border, #d0d7de); border-radius: 4px; }
.loss { inline-size: 100%; block-size: 56px; }
progress { display: block; }
details { margin-block-start: 0.5em; }
summary { cursor: pointer; color: var(--tp-muted, #656d76); }
`;

export class TransformerPlaygroundElement extends PlaygroundElement {
  static observedAttributes = ['corpus', 'tokenizer', 'config', 'model-src', 'steps', 'autoplay', 'prompt', 'max-tokens', 'temperature', 'seed', 'corpus-bytes', 'backend'];

  #built: BuiltModel | null = null;
  #key = '';
  #training: AbortController | null = null;
  #generating: AbortController | null = null;
  #losses: number[] = [];
  #output = '';
  #ui: {
    train: HTMLButtonElement;
    generate: HTMLButtonElement;
    status: HTMLDivElement;
    bar: HTMLProgressElement;
    loss: HTMLCanvasElement;
    prompt: HTMLInputElement;
    output: HTMLPreElement;
    attention: HTMLCanvasElement;
  } | null = null;

  constructor() {
    super(CSS);
  }

  get model(): Model | null {
    return this.#built?.model ?? null;
  }
  /** The text of the last generation. */
  get output(): string {
    return this.#output;
  }
  get training(): boolean {
    return this.#training !== null;
  }
  get prompt(): string {
    return this.getAttribute('prompt') ?? 'Once upon a time';
  }
  set prompt(value: string) {
    this.setAttribute('prompt', value);
  }

  protected async update(signal: AbortSignal): Promise<void> {
    const recipe = readRecipe(this, 'stories');
    const key = JSON.stringify(recipe);
    if (this.#built && key === this.#key) {
      // Only the steps, prompt or sampling changed: nothing to rebuild.
      if (this.#ui && this.#ui.prompt.value !== this.prompt && this.#ui.prompt !== this.root.activeElement) this.#ui.prompt.value = this.prompt;
      return;
    }
    this.#stop();
    const status = document.createElement('div');
    status.className = 'status';
    status.textContent = 'preparing the model…';
    this.root.replaceChildren(status);
    this.#built = await buildModel(recipe, signal);
    this.#key = key;
    this.#losses = [];
    this.#render();
    if (this.hasAttribute('autoplay') && this.#built.text !== null) void this.train();
  }

  #render(): void {
    const model = this.#built!.model;
    const make = <K extends keyof HTMLElementTagNameMap>(tag: K, className = ''): HTMLElementTagNameMap[K] => {
      const element = document.createElement(tag);
      if (className) element.className = className;
      return element;
    };
    const bar = make('div', 'bar');
    const train = make('button');
    train.type = 'button';
    train.part.add('button');
    train.addEventListener('click', () => {
      if (!this.#training) void this.train();
      else if (model.paused) this.resume();
      else this.pause();
    });
    const status = make('div', 'status');
    bar.append(train, status);
    const progress = make('progress');
    progress.max = 1;
    progress.value = 0;
    const loss = make('canvas', 'loss');
    loss.setAttribute('role', 'img');
    loss.setAttribute('aria-label', 'training loss');
    const promptRow = make('div', 'prompt');
    const prompt = make('input');
    prompt.type = 'text';
    prompt.value = this.prompt;
    prompt.setAttribute('aria-label', 'prompt');
    prompt.addEventListener('change', () => this.setAttribute('prompt', prompt.value));
    const generate = make('button');
    generate.type = 'button';
    generate.textContent = 'Generate';
    generate.part.add('button');
    generate.addEventListener('click', () => void this.generate().catch(() => {}));
    promptRow.append(prompt, generate);
    const output = make('pre', 'output');
    output.part.add('output');
    output.setAttribute('aria-live', 'polite');
    const details = make('details');
    const summary = make('summary');
    summary.textContent = 'attention of the prompt (last layer, head 0)';
    const attention = make('canvas');
    details.append(summary, attention);
    details.addEventListener('toggle', () => void this.#drawAttention());
    this.root.replaceChildren(bar, progress, loss, promptRow, output, details);
    this.#ui = { train, generate, status, bar: progress, loss, prompt, output, attention };
    const source = this.#built!.text === null ? `loaded from ${this.getAttribute('model-src')}` : `corpus '${this.getAttribute('corpus') || 'stories'}'`;
    status.textContent = `${model.paramCount.toLocaleString('en')} parameters on the ${model.backend.toUpperCase()}, ${source}`;
    train.disabled = this.#built!.text === null;
    this.#syncButton();
  }

  #syncButton(): void {
    if (!this.#ui) return;
    const model = this.#built?.model;
    this.#ui.train.textContent = !this.#training ? 'Train' : model?.paused ? 'Resume' : 'Pause';
  }

  /** Trains `steps` more steps. Resolves when they are done; rejects with an AbortError if stopped. */
  async train(): Promise<TrainResult> {
    await this.updateComplete;
    const built = this.#built;
    if (!built || built.text === null) throw new Error('there is nothing to train: the model is loading, or was loaded from a file');
    if (this.#training) throw new Error('already training: pause() or wait');
    const steps = readInteger(this, 'steps', 300, 1, 100_000);
    const controller = new AbortController();
    this.#training = controller;
    this.#syncButton();
    const ui = this.#ui!;
    ui.bar.max = steps;
    try {
      const first = built.model.stepCount === 0;
      const result = await built.model.train({
        ...(first ? { text: built.text, scheduleSteps: Math.max(steps, 1000) } : {}),
        steps,
        batchSize: 8,
        lr: 3e-3,
        evalInterval: 0,
        signal: controller.signal,
        onProgress: (p) => {
          ui.bar.value = p.done;
          this.#losses.push(p.loss);
          ui.status.textContent = `step ${built.model.stepCount} · loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSecond).toLocaleString('en')} tokens/s`;
          if (p.done % 5 === 0 || p.done === p.total) this.#drawLoss();
          this.emit('progress', p);
        },
      });
      this.emit('trained', result);
      void this.#drawAttention();
      return result;
    } catch (error) {
      if (!isAbort(error)) this.#report(error);
      throw error;
    } finally {
      if (this.#training === controller) this.#training = null;
      this.#syncButton();
    }
  }

  pause(): void {
    this.#built?.model.pause();
    this.#syncButton();
  }

  resume(): void {
    this.#built?.model.resume();
    this.#syncButton();
  }

  /** Writes `max-tokens` tokens after the prompt, shown as they come. Resolves to the text. */
  async generate(): Promise<string> {
    await this.updateComplete;
    const built = this.#built;
    const ui = this.#ui;
    if (!built || !ui) throw new Error('the model is not ready yet');
    if (this.#training) throw new Error('pause or finish training first: generating uses the same model');
    this.#generating?.abort();
    const controller = new AbortController();
    this.#generating = controller;
    const prompt = ui.prompt.value || this.prompt;
    const maxTokens = readInteger(this, 'max-tokens', 200, 1, 10_000);
    const temperature = Number(this.getAttribute('temperature') ?? 0.8);
    ui.output.textContent = '';
    ui.generate.disabled = true;
    let text = '';
    try {
      for await (const piece of built.model.stream(prompt, { maxTokens, temperature: Number.isFinite(temperature) ? temperature : 0.8, seed: readInteger(this, 'seed', 1, 0, 0xffffffff), signal: controller.signal })) {
        text += piece;
        ui.output.textContent = text; // text only: generated text can contain anything
      }
      this.#output = text;
      this.emit('generated', { text });
      void this.#drawAttention();
      return text;
    } catch (error) {
      if (!isAbort(error)) this.#report(error);
      throw error;
    } finally {
      ui.generate.disabled = false;
      if (this.#generating === controller) this.#generating = null;
    }
  }

  #drawLoss(): void {
    const canvas = this.#ui?.loss;
    const context = canvas?.getContext('2d');
    if (!canvas || !context) return;
    const style = heatmapStyle(this);
    const width = Math.max(canvas.clientWidth, 100);
    const height = 56;
    const ratio = globalThis.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    context.scale(ratio, ratio);
    context.clearRect(0, 0, width, height);
    const losses = this.#losses;
    if (losses.length < 2) return;
    const max = Math.max(...losses);
    const min = Math.min(...losses);
    const span = max - min || 1;
    context.strokeStyle = style.color;
    context.lineWidth = 1.5;
    context.beginPath();
    losses.forEach((loss, i) => {
      const x = (i / (losses.length - 1)) * (width - 4) + 2;
      const y = 4 + (1 - (loss - min) / span) * (height - 8);
      if (i === 0) context.moveTo(x, y);
      else context.lineTo(x, y);
    });
    context.stroke();
    context.fillStyle = style.fg;
    context.font = style.font;
    context.fillText(`loss ${losses[losses.length - 1]!.toFixed(3)}`, 6, 14);
  }

  async #drawAttention(): Promise<void> {
    const ui = this.#ui;
    const model = this.#built?.model;
    const details = ui?.attention.parentElement as HTMLDetailsElement | null;
    if (!ui || !model || !details?.open || this.#training) return;
    const ids = model.tokenizer!.encode(ui.prompt.value || this.prompt).subarray(0, model.config.blockSize);
    if (ids.length === 0) return;
    try {
      const maps = await model.attention(ids);
      drawHeatmap(ui.attention, maps.head(maps.nLayer - 1, 0), maps.tokens.map((t) => t.text), Math.min(this.clientWidth || 320, 480), heatmapStyle(this));
    } catch {
      // busy (a generation started): the next one redraws
    }
  }

  #report(error: unknown): void {
    if (this.#ui) this.#ui.status.textContent = messageOf(error);
    this.emit('error', { message: messageOf(error), error });
  }

  #stop(): void {
    this.#training?.abort(abortError('training'));
    this.#training = null;
    this.#generating?.abort();
    this.#generating = null;
    freeModel(this.#built);
    this.#built = null;
    this.#key = '';
    this.#ui = null;
  }

  protected release(): void {
    this.#stop();
  }
}

define('transformer-playground', TransformerPlaygroundElement);

declare global {
  interface HTMLElementTagNameMap {
    'transformer-playground': TransformerPlaygroundElement;
  }
}
