// The page's state: what the panels share (the corpus, the tokenizer, the model settings, the backend), with
// a tiny event bus so a panel can redraw when another changes something. Persisted to IndexedDB by session.ts.
import type { AdapterReport, Backend, BpeTrainingView, MergeView, ModelInfo, TokenizerOptions, TokenizerSummary } from './protocol';
import type { ModelConfig } from '../../js/src/index';

export interface CorpusState {
  source: 'builtin' | 'user';
  /** The built-in corpus name, or the file name / "pasted text". */
  name: string;
  seed?: number;
  approxBytes?: number;
  text: string;
}

/** The Model panel's settings: the package's ModelConfig (checked against the core's by a test) without what the
 *  page does not let a person choose (the vocabulary comes from the tokenizer; biases on, causal attention). */
export type ModelSettings = Required<Omit<ModelConfig, 'vocabSize' | 'bias' | 'attentionMask'>>;

export const DEFAULT_MODEL: ModelSettings = {
  nLayer: 2,
  nHead: 4,
  nEmbd: 64,
  blockSize: 64,
  ffnMult: 4,
  activation: 'gelu',
  positional: 'learned',
  dropout: 0,
  objective: 'causal',
};

export interface TokenizerState {
  options: TokenizerOptions;
  summary: TokenizerSummary;
  /** tokenizer.json, so the session can restore it. */
  json: string;
  /** A character tokenizer made by the Training panel's Start because there was none (not chosen by the person),
   *  and the text it was made from: Start makes it again for another text. */
  auto?: { corpus: string; characters: number };
  /** The corpus it was trained on (name and characters), and how BPE training ended: kept with the session,
   *  since a tokenizer loaded back from tokenizer.json no longer knows them. */
  trainedOn?: { name: string; characters: number };
  training?: BpeTrainingView;
  /** The newest merges as the Tokenizer panel lists them (with their counts from training). */
  recentMerges?: MergeView[];
}

/** One training phase: a run on one corpus (fine-tuning on another corpus starts a second phase). */
export interface Phase {
  corpus: string;
  /** the chart step where this phase starts */
  offset: number;
  steps: { step: number; loss: number; lr: number; tokensPerSec: number }[];
  evals: { step: number; valLoss: number; valPpl: number }[];
}

type Events = {
  /** The model the worker holds (after training, or loaded), or null. */
  modelInfo: ModelInfo | null;
  /** The training history drawn on the charts (set when a run ends, or restored). */
  phases: Phase[];
  /** Whether a training run is going on. */
  training: boolean;
  corpus: CorpusState | null;
  tokenizer: TokenizerState | null;
  model: ModelSettings;
  /** Why the Model panel's form cannot be built (then `model` keeps the last settings that could), or null. */
  modelError: string | null;
  backend: Backend;
};

export class Store {
  corpus: CorpusState | null = null;
  tokenizer: TokenizerState | null = null;
  model: ModelSettings = { ...DEFAULT_MODEL };
  modelError: string | null = null;
  modelInfo: ModelInfo | null = null;
  phases: Phase[] = [];
  training = false;
  backend: Backend = 'cpu';
  adapter: AdapterReport | null = null;
  /** The largest buffer the WebGPU adapter binds, or null without one. */
  maxBinding(): number | null {
    return this.adapter?.available ? this.adapter.limits.maxStorageBufferBindingSize : null;
  }

  private listeners = new Map<keyof Events, ((value: never) => void)[]>();

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as (value: never) => void);
    this.listeners.set(event, list);
  }

  set<K extends keyof Events>(event: K, value: Events[K]): void {
    (this as unknown as Events)[event] = value;
    for (const listener of this.listeners.get(event) ?? []) (listener as (value: Events[K]) => void)(value);
  }
}
