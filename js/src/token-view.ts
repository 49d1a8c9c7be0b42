// <token-view>: a text shown as colored tokens of a tokenizer.
//
//   <token-view text="Once upon a time" tokenizer="bpe:512" corpus="stories"></token-view>
//   <token-view text="..." tokenizer-src="/tokenizer.json"></token-view>
//
// Attributes (and the properties of the same name, camelCased):
//   text            the text to tokenize
//   tokenizer       'char' (default) or 'bpe:<vocab size>', trained on `corpus`
//   tokenizer-src   the URL of a tokenizer.json to load instead
//   corpus          the built-in corpus to train on (default 'stories'); 'char' also learns the text's own characters
//   corpus-bytes    how much of the corpus to train on (default 32768)
// Property `tokenizerObject`: a Tokenizer of your own (the widget uses it and never disposes it).
// Events: `progress` (BPE training, detail: TokenizerProgress), `trained` (detail: {kind, vocabSize}),
//         `tokens` (detail: {count}), `error` (detail: {message, error}).
// Theme: --tp-font, --tp-bg, --tp-fg, --tp-muted, --tp-border, --tp-token-0 .. --tp-token-7, --tp-token-fg.
import { generateCorpus } from './corpus.js';
import { PlaygroundError } from './errors.js';
import { Tokenizer, type Token } from './tokenizer.js';
import { define, PlaygroundElement } from './widget-base.js';

const PALETTE = ['#ffd8b5', '#c8f0c8', '#cde4ff', '#f7d0ef', '#fff1a8', '#d5d0ff', '#c3efe9', '#ffcfcf'];

const CSS = `
.tokens { white-space: pre-wrap; word-break: break-word; line-height: 1.9; }
.tok { border-radius: 3px; padding: 0.05em 0.1em; margin-inline-end: 1px; color: var(--tp-token-fg, #1f2328); }
${PALETTE.map((color, i) => `.c${i} { background: var(--tp-token-${i}, ${color}); }`).join('\n')}
.tok.special { outline: 1px dashed var(--tp-muted, #656d76); }
`;

/** Parses the `tokenizer` attribute: 'char' or 'bpe:<vocab>'. */
export function parseTokenizerSpec(spec: string): { kind: 'char' } | { kind: 'bpe'; vocabSize: number } {
  const value = spec.trim() || 'char';
  if (value === 'char') return { kind: 'char' };
  const match = /^bpe:(\d{1,6})$/.exec(value);
  if (match) return { kind: 'bpe', vocabSize: Number(match[1]) };
  throw new PlaygroundError(`the tokenizer attribute must be 'char' or 'bpe:<vocab size>', such as 'bpe:512' (got '${spec}')`);
}

export class TokenView extends PlaygroundElement {
  static observedAttributes = ['text', 'tokenizer', 'tokenizer-src', 'corpus', 'corpus-bytes'];

  #owned: Tokenizer | null = null;
  #ownedKey = '';
  #external: Tokenizer | null = null;
  #tokens: Token[] = [];

  constructor() {
    super(CSS);
  }

  get text(): string {
    return this.getAttribute('text') ?? '';
  }
  set text(value: string) {
    this.setAttribute('text', value);
  }
  get tokenizer(): string {
    return this.getAttribute('tokenizer') ?? 'char';
  }
  set tokenizer(value: string) {
    this.setAttribute('tokenizer', value);
  }
  get tokenizerSrc(): string | null {
    return this.getAttribute('tokenizer-src');
  }
  set tokenizerSrc(value: string | null) {
    if (value === null) this.removeAttribute('tokenizer-src');
    else this.setAttribute('tokenizer-src', value);
  }
  get corpus(): string {
    return this.getAttribute('corpus') ?? 'stories';
  }
  set corpus(value: string) {
    this.setAttribute('corpus', value);
  }

  /** A tokenizer of your own to show the text with; it wins over the attributes. Not disposed by the widget. */
  get tokenizerObject(): Tokenizer | null {
    return this.#external;
  }
  set tokenizerObject(value: Tokenizer | null) {
    this.#external = value;
    this.requestUpdate();
  }

  /** The tokens shown now. */
  get tokens(): readonly Token[] {
    return this.#tokens;
  }

  /** The tokenizer in use (yours, or the one the widget trained or loaded), or null. */
  get activeTokenizer(): Tokenizer | null {
    return this.#external ?? this.#owned;
  }

  protected async update(signal: AbortSignal): Promise<void> {
    const tokenizer = this.#external ?? (await this.#ownTokenizer(signal));
    if (signal.aborted) return;
    const text = this.text;
    const tokens = tokenizer.tokenize(text);
    const special = new Set<number>();
    for (const t of tokens) if (tokenizer.specialId(t.text) === t.id) special.add(t.id);
    this.#tokens = tokens;

    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.part.add('meta');
    meta.textContent = `${tokens.length} tokens · ${[...text].length} characters · ${this.#describe(tokenizer)}`;
    const box = document.createElement('div');
    box.className = 'tokens';
    box.part.add('tokens');
    for (const token of tokens) {
      const span = document.createElement('span');
      span.className = `tok c${token.id % PALETTE.length}`;
      if (special.has(token.id)) span.classList.add('special');
      span.part.add('token');
      span.textContent = token.text; // text only, never markup
      span.title = `id ${token.id}`;
      span.dataset.id = String(token.id);
      box.append(span);
    }
    this.root.replaceChildren(meta, box);
    this.emit('tokens', { count: tokens.length });
  }

  #describe(tokenizer: Tokenizer): string {
    if (this.#external) return `${tokenizer.kind} tokenizer, ${tokenizer.vocabSize} ids`;
    if (this.tokenizerSrc) return `${tokenizer.kind} tokenizer from ${this.tokenizerSrc}, ${tokenizer.vocabSize} ids`;
    return `${tokenizer.kind} tokenizer, ${tokenizer.vocabSize} ids, trained on '${this.corpus}'`;
  }

  /** The tokenizer the attributes ask for: kept while they stay the same, replaced (and freed) when they change. */
  async #ownTokenizer(signal: AbortSignal): Promise<Tokenizer> {
    const src = this.tokenizerSrc;
    const spec = src ? null : parseTokenizerSpec(this.tokenizer);
    const bytes = Number(this.getAttribute('corpus-bytes') ?? 32768);
    // A char tokenizer also learns the characters of the text itself, so it changes with the text.
    const key = JSON.stringify(src ? { src } : { spec, corpus: this.corpus, bytes, text: spec?.kind === 'char' ? this.text : null });
    if (this.#owned && this.#ownedKey === key) return this.#owned;

    let next: Tokenizer;
    if (src) {
      const url = new URL(src, document.baseURI);
      const response = await fetch(url, { signal });
      if (!response.ok) throw new PlaygroundError(`could not load the tokenizer from ${url}: HTTP ${response.status}`);
      next = await Tokenizer.load(await response.arrayBuffer());
    } else {
      if (!Number.isInteger(bytes) || bytes < 1 || bytes > 4 << 20) {
        throw new PlaygroundError(`corpus-bytes must be a whole number from 1 to 4194304 (got '${this.getAttribute('corpus-bytes')}')`);
      }
      const corpus = await generateCorpus(this.corpus, { bytes });
      if (signal.aborted) throw new PlaygroundError('superseded');
      // Let the page paint the loading state before a synchronous training run.
      await new Promise((done) => setTimeout(done, 0));
      if (signal.aborted) throw new PlaygroundError('superseded');
      next =
        spec!.kind === 'char'
          ? await Tokenizer.train(`${corpus}\n${this.text}`, { kind: 'char' })
          : await Tokenizer.train(corpus, {
              kind: 'bpe',
              vocabSize: spec!.vocabSize,
              signal,
              onProgress: (progress) => this.emit('progress', progress),
            });
    }
    if (signal.aborted || !this.isConnected) {
      next.dispose();
      throw new PlaygroundError('superseded');
    }
    this.#owned?.dispose();
    this.#owned = next;
    this.#ownedKey = key;
    this.emit('trained', { kind: next.kind, vocabSize: next.vocabSize });
    return next;
  }

  protected release(): void {
    this.#owned?.dispose();
    this.#owned = null;
    this.#ownedKey = '';
    this.#tokens = [];
  }
}

define('token-view', TokenView);

declare global {
  interface HTMLElementTagNameMap {
    'token-view': TokenView;
  }
}
