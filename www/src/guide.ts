// The path through the page for a first visit: a quick start above the panels (Data → Tokenizer → Model →
// Training → Generate, each step ticked when done) and, at the end of every panel, the next step in words with a
// button that opens it. Both follow the shared state, so they say what is true now.
import { h, replace } from './dom';
import type { Store } from './state';

/** The quick start: the panels a first run goes through, in order. */
export const QUICK_START = ['data', 'tokenizer', 'model', 'training', 'generate'] as const;

export interface NextStep {
  /** What to do now, in words. */
  text: string;
  /** The panel the button opens, and the button's label; none where the step is on this panel itself. */
  target?: string;
  label?: string;
}

/** The next step after (or on) panel `id`, given what exists now. */
export function nextStep(id: string, store: Store): NextStep | null {
  const model = store.modelInfo !== null;
  switch (id) {
    case 'data':
      return store.corpus
        ? { text: 'Next: cut this text into tokens. (Or go straight to Training: Start makes a character tokenizer if there is none.)', target: 'tokenizer', label: 'Next: Tokenizer' }
        : { text: 'First choose a text above: a built-in corpus or your own.' };
    case 'tokenizer':
      return store.tokenizer
        ? { text: `Next: choose the model's shape (the vocabulary of ${store.tokenizer.summary.vocabSize} tokens comes from this tokenizer).`, target: 'model', label: 'Next: Model' }
        : { text: 'Train a tokenizer above (characters is quickest), or skip this step: Start in Training makes a character tokenizer.', target: 'model', label: 'Next: Model' };
    case 'model':
      return { text: 'Next: train this model on the text.', target: 'training', label: 'Next: Training' };
    case 'training':
      if (store.training) return { text: 'Training… the Embeddings panel redraws as the model learns.', target: 'embeddings', label: 'Watch the embeddings' };
      return model
        ? { text: 'Next: let the trained model write.', target: 'generate', label: 'Next: Generate' }
        : { text: 'Press Start above: it trains the model on the text with these settings (a character tokenizer is made if there is none).' };
    case 'generate':
      return model
        ? { text: 'Next: look inside: where each head of the model attends.', target: 'attention', label: 'Next: Attention' }
        : { text: 'There is no model to generate with yet: train one first (or load one in Save & load).', target: 'training', label: 'Go to Training' };
    case 'attention':
      return { text: 'Next: how the model knows where a token is.', target: 'positions', label: 'Next: Positions' };
    case 'positions':
      return { text: 'Next: the token vectors the model learned.', target: 'embeddings', label: 'Next: Embeddings' };
    case 'embeddings':
      return { text: 'Next: keep your work, or download the model.', target: 'session', label: 'Next: Save & load' };
    case 'session':
      return { text: 'Next: where the model runs (WebGPU or the CPU) and the kernel check.', target: 'backend', label: 'Next: Backend' };
    default:
      return null;
  }
}

/** Which quick-start steps are done: the text, the tokenizer and the trained model exist; the Model panel was
 *  looked at (or a model exists); the Generate panel was opened with a model to generate with. */
function done(step: (typeof QUICK_START)[number], store: Store): boolean {
  switch (step) {
    case 'data':
      return store.corpus !== null;
    case 'tokenizer':
      return store.tokenizer !== null;
    case 'model':
      return store.modelInfo !== null || visited.has('model');
    case 'training':
      return store.modelInfo !== null;
    case 'generate':
      return visitedWithModel.has('generate');
  }
}

const visited = new Set<string>();
const visitedWithModel = new Set<string>();
const redraws: (() => void)[] = [];
const redrawAll = () => redraws.forEach((redraw) => redraw());

const STORE_EVENTS = ['corpus', 'tokenizer', 'modelInfo', 'phases', 'training'] as const;

/** Appends the next-step line to a panel's section. */
export function mountNextStep(section: HTMLElement, id: string, store: Store, open: (id: string) => void): void {
  const box = h('nav', { class: 'next-step', id: `next-${id}`, 'aria-label': 'Next step' });
  const draw = () => {
    const step = nextStep(id, store);
    if (!step) return replace(box);
    const position = QUICK_START.indexOf(id as (typeof QUICK_START)[number]);
    const button = step.target ? h('button', { type: 'button', class: 'next-button', 'data-target': step.target }, `${step.label} →`) : null;
    button?.addEventListener('click', () => open(step.target!));
    replace(box, position >= 0 ? h('span', { class: 'next-count' }, `Step ${position + 1} of ${QUICK_START.length}. `) : null, h('span', { class: 'next-text' }, step.text), ' ', button);
  };
  section.append(box);
  redraws.push(draw);
  for (const event of STORE_EVENTS) store.on(event, draw);
  draw();
}

/** The quick start above the panels: five steps, ticked as they are done; each opens its panel. */
export function mountQuickStart(parent: HTMLElement, store: Store, titles: Map<string, string>, open: (id: string) => void, current: () => string): void {
  const list = h('ol', { class: 'quick-steps' });
  const nav = h('nav', { id: 'quick-start', 'aria-label': 'Quick start' }, h('span', { class: 'quick-title' }, 'Quick start:'), list);
  const draw = () => {
    const here = current();
    replace(
      list,
      ...QUICK_START.map((id) => {
        const finished = done(id, store);
        const button = h(
          'button',
          { type: 'button', class: 'quick-step', 'data-step': id, 'data-done': String(finished), 'aria-current': id === here ? 'step' : undefined },
          finished ? '✓ ' : '',
          titles.get(id) ?? id,
          finished ? h('span', { class: 'visually-hidden' }, ' (done)') : null,
        );
        button.addEventListener('click', () => open(id));
        return h('li', {}, button);
      }),
    );
  };
  parent.prepend(nav);
  redraws.push(draw);
  for (const event of STORE_EVENTS) store.on(event, draw);
  draw();
}

/** main.ts calls this when a panel is shown: the quick start marks where the person is and what they saw. */
export function panelShown(id: string, store: Store): void {
  visited.add(id);
  if (store.modelInfo) visitedWithModel.add(id);
  redrawAll();
}
