// What the model widgets share: reading their attributes into a model recipe, and building the model
// (tokenizer trained on a built-in corpus, or a safetensors file with its tokenizer inside).
import { generateCorpus } from './corpus.js';
import { PlaygroundError } from './errors.js';
import { createModel, loadModel, type Backend, type Model, type ModelConfig } from './model.js';
import { parseTokenizerSpec } from './token-view.js';
import { Tokenizer } from './tokenizer.js';

/** Everything that decides which model a widget holds: the same recipe keeps the same model. */
export interface ModelRecipe {
  modelSrc: string | null;
  corpus: string;
  corpusBytes: number;
  tokenizer: string;
  config: ModelConfig;
  seed: number;
  backend: Backend;
}

/** The small default model of the widgets: trains in seconds on a laptop's CPU. */
export const WIDGET_CONFIG: ModelConfig = { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32 };

function integer(element: Element, name: string, fallback: number, min: number, max: number): number {
  const raw = element.getAttribute(name);
  if (raw === null || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PlaygroundError(`the ${name} attribute must be a whole number from ${min} to ${max} (got '${raw}')`);
  }
  return value;
}

export function readInteger(element: Element, name: string, fallback: number, min: number, max: number): number {
  return integer(element, name, fallback, min, max);
}

function readBackend(element: Element): Backend {
  const raw = (element.getAttribute('backend') ?? 'auto').trim() || 'auto';
  if (raw === 'auto' || raw === 'cpu' || raw === 'webgpu') return raw;
  throw new PlaygroundError(`the backend attribute must be 'auto', 'webgpu' or 'cpu' (got '${raw}')`);
}

export function readRecipe(element: Element, defaultCorpus: string): ModelRecipe {
  const rawConfig = element.getAttribute('config');
  let config: ModelConfig = WIDGET_CONFIG;
  if (rawConfig !== null && rawConfig.trim() !== '') {
    try {
      config = JSON.parse(rawConfig) as ModelConfig;
    } catch (error) {
      throw new PlaygroundError(`the config attribute is not valid JSON (${(error as Error).message}); write it like {"nLayer": 2, "nHead": 2, "nEmbd": 32, "blockSize": 32}`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new PlaygroundError('the config attribute must be a JSON object, like {"nLayer": 2, "nHead": 2, "nEmbd": 32, "blockSize": 32}');
    }
  }
  return {
    modelSrc: element.getAttribute('model-src'),
    corpus: element.getAttribute('corpus') || defaultCorpus,
    corpusBytes: integer(element, 'corpus-bytes', 32768, 256, 4 << 20),
    tokenizer: element.getAttribute('tokenizer') || 'char',
    config,
    seed: integer(element, 'seed', 1, 0, 0xffffffff),
    backend: readBackend(element),
  };
}

export interface BuiltModel {
  model: Model;
  tokenizer: Tokenizer | null; // owned by the widget (null when the model owns the one from its file)
  text: string | null; // the corpus text to train on (null for a loaded model)
}

/** Builds the model a recipe describes. Everything it made is freed again if `signal` aborts meanwhile. */
export async function buildModel(recipe: ModelRecipe, signal: AbortSignal): Promise<BuiltModel> {
  const superseded = (): never => {
    throw new PlaygroundError('superseded');
  };
  if (recipe.modelSrc) {
    const url = new URL(recipe.modelSrc, document.baseURI);
    const response = await fetch(url, { signal });
    if (!response.ok) throw new PlaygroundError(`could not load the model from ${url}: HTTP ${response.status}`);
    const model = await loadModel(await response.arrayBuffer(), { backend: recipe.backend });
    if (signal.aborted) {
      model.dispose();
      superseded();
    }
    if (!model.tokenizer) {
      model.dispose();
      throw new PlaygroundError(`the model from ${url} has no tokenizer inside; save it with model.save() from a model that has one`);
    }
    return { model, tokenizer: null, text: null };
  }
  const spec = parseTokenizerSpec(recipe.tokenizer);
  const text = await generateCorpus(recipe.corpus, { bytes: recipe.corpusBytes, seed: recipe.seed });
  if (signal.aborted) superseded();
  await new Promise((done) => setTimeout(done, 0)); // let the page paint the loading state
  const tokenizer = await Tokenizer.train(text, spec.kind === 'char' ? { kind: 'char' } : { kind: 'bpe', vocabSize: spec.vocabSize, signal });
  try {
    const model = await createModel({ tokenizer, config: recipe.config, seed: recipe.seed, backend: recipe.backend });
    if (signal.aborted) {
      model.dispose();
      superseded();
    }
    return { model, tokenizer, text };
  } catch (error) {
    tokenizer.dispose();
    throw error;
  }
}

/** Frees what buildModel made. */
export function freeModel(built: BuiltModel | null): void {
  built?.model.dispose();
  built?.tokenizer?.dispose();
}

export const MODEL_CSS = `
.bar { display: flex; flex-wrap: wrap; gap: 0.4em 0.8em; align-items: center; margin-block-end: 0.5em; }
.bar label { display: inline-flex; gap: 0.3em; align-items: center; }
select, button, input { font: inherit; color: inherit; background: var(--tp-bg, #fff); border: 1px solid var(--tp-border, #d0d7de); border-radius: 4px; padding: 0.1em 0.4em; }
button { cursor: pointer; }
button:disabled { opacity: 0.5; cursor: default; }
canvas { display: block; max-inline-size: 100%; }
.status { color: var(--tp-muted, #656d76); font-size: 0.85em; }
`;
