// What every widget shares: a shadow root styled by constructed stylesheets (they work under a strict CSP,
// where <style> elements and style attributes are blocked), events, batched updates that cancel the previous
// one, and freeing everything when the element leaves the page.
import { messageOf } from './errors.js';

/** In Node (no DOM) the widget classes still load; they just cannot be constructed. */
export const ElementBase: typeof HTMLElement =
  (globalThis as { HTMLElement?: typeof HTMLElement }).HTMLElement ?? (class {} as unknown as typeof HTMLElement);

export type WidgetState = 'idle' | 'loading' | 'ready' | 'error';

/** The theme: every color and the font come from CSS custom properties set on the element or above it. */
const BASE_CSS = `
:host {
  display: block;
  box-sizing: border-box;
  inline-size: 100%;
  max-inline-size: 100%;
  font: var(--tp-font, 14px/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace);
  color: var(--tp-fg, #1f2328);
  background: var(--tp-bg, #ffffff);
  border: 1px solid var(--tp-border, #d0d7de);
  border-radius: var(--tp-radius, 6px);
  padding: var(--tp-padding, 0.6em 0.8em);
  overflow: auto;
  contain: content;
}
:host([hidden]) { display: none; }
.meta { color: var(--tp-muted, #656d76); font-size: 0.85em; margin-block-end: 0.4em; }
.error { color: var(--tp-error, #cf222e); white-space: pre-wrap; }
.note { color: var(--tp-muted, #656d76); font-style: italic; }
progress { inline-size: 100%; accent-color: var(--tp-accent, #0969da); }
`;

const sheets = new Map<string, CSSStyleSheet>();
function sheet(css: string): CSSStyleSheet {
  let found = sheets.get(css);
  if (!found) {
    found = new CSSStyleSheet();
    found.replaceSync(css);
    sheets.set(css, found);
  }
  return found;
}

export abstract class PlaygroundElement extends ElementBase {
  protected readonly root: ShadowRoot;
  #state: WidgetState = 'idle';
  #controller: AbortController | null = null;
  #scheduled = false;
  #updateComplete: Promise<void> = Promise.resolve();
  #lastError: Error | null = null;

  constructor(css: string) {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.root.adoptedStyleSheets = [sheet(BASE_CSS), sheet(css)];
  }

  /** 'idle' | 'loading' | 'ready' | 'error' (also as the host's data-state attribute, for styling). */
  get state(): WidgetState {
    return this.#state;
  }

  /** The error of the last update, if it failed. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /** Resolves when the latest update (from attributes, properties or connecting) has finished. */
  get updateComplete(): Promise<void> {
    return this.#updateComplete;
  }

  connectedCallback(): void {
    this.requestUpdate();
  }

  disconnectedCallback(): void {
    this.#controller?.abort();
    this.#controller = null;
    this.release();
    this.root.replaceChildren();
    this.#setState('idle');
  }

  attributeChangedCallback(_name: string, oldValue: string | null, newValue: string | null): void {
    if (oldValue !== newValue) this.requestUpdate();
  }

  /** Batches changes made in the same task into one update; a newer update cancels the running one. */
  protected requestUpdate(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#updateComplete = new Promise<void>((done) => {
      queueMicrotask(() => {
        this.#scheduled = false;
        if (!this.isConnected) return done();
        this.#controller?.abort();
        const controller = new AbortController();
        this.#controller = controller;
        this.#setState('loading');
        this.update(controller.signal)
          .then(
            () => {
              if (controller.signal.aborted) return;
              this.#lastError = null;
              this.#setState('ready');
            },
            (error: unknown) => {
              if (controller.signal.aborted) return;
              this.showError(error);
            },
          )
          .finally(done);
      });
    });
  }

  /** Shows `error` in the widget and emits an `error` event. */
  protected showError(error: unknown): void {
    const message = messageOf(error);
    this.#lastError = error instanceof Error ? error : new Error(message);
    const box = document.createElement('div');
    box.className = 'error';
    box.setAttribute('role', 'alert');
    box.textContent = message; // text only: messages can quote user input
    this.root.replaceChildren(box);
    this.#setState('error');
    this.emit('error', { message, error: this.#lastError });
  }

  protected emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }

  #setState(state: WidgetState): void {
    this.#state = state;
    this.dataset.state = state;
  }

  /** Brings the shadow DOM in line with the attributes. `signal` aborts when a newer update starts. */
  protected abstract update(signal: AbortSignal): Promise<void>;

  /** Frees what the widget holds (core memory, GPU buffers). Called when it leaves the page. */
  protected abstract release(): void;
}

/** Defines `name` unless it is already defined (say, the widgets file loaded twice) or there is no DOM. */
export function define(name: string, element: CustomElementConstructor): void {
  const registry = (globalThis as { customElements?: CustomElementRegistry }).customElements;
  if (registry && !registry.get(name)) registry.define(name, element);
}
