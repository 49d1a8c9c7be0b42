// The messages between the page and the worker that owns the wasm core. Every call is a request with an id,
// answered once with either a value or an error message; a long call (tokenizer training) may also send
// progress messages with the same id before its answer.

import type { BpeTraining, GeneratedBatch, GpuInfo, MemoryReport, ModelConfig, ModelSize } from '../../js/src/index';
import type { FinetuneApi } from './finetune-protocol';
import type { LabApi } from './lab-protocol';
import type { Seq2SeqApi } from './seq2seq-protocol';

/** The WebGPU adapter the core would use, or why there is none (the package's gpuInfo()). */
export type AdapterReport = GpuInfo;

export type Backend = 'webgpu' | 'cpu';

export interface KernelCheck {
  backend: Backend;
  /** The kernel `out` came from: the WGSL 'matmul_forward' on WebGPU, the fast 'matmul_forward_fast_cpu' on the CPU. */
  kernel: 'matmul_forward' | 'matmul_forward_fast_cpu';
  /** Why no GPU kernel was checked (on the CPU). */
  reason?: string;
  n: number;
  c: number;
  oc: number;
  inp: number[];
  weight: number[];
  bias: number[];
  out: number[];
  /** The CPU reference (Rust, in wasm) for the same inputs. */
  reference: number[];
  maxAbsDiff: number;
  pass: boolean;
  millis: number;
}

export interface CorpusInfo {
  name: string;
  description: string;
}

export type TokenizerKind = 'char' | 'bpe';
export type SplitPattern = 'none' | 'gpt2' | 'gpt4';

export interface TokenizerOptions {
  kind: TokenizerKind;
  /** BPE only: the whole vocabulary (256 bytes + merges + special tokens). */
  vocabSize: number;
  pattern: SplitPattern;
}

/** One BPE merge as the page shows it: two tokens became one. */
export interface MergeView {
  rank: number;
  left: string;
  right: string;
  token: number;
  text: string;
  /** How often the pair occurred when it was merged; unknown (undefined) for a loaded tokenizer. */
  count?: number;
}

/** How BPE training ended (the package's BpeTraining without the count of every merge). */
export type BpeTrainingView = Omit<BpeTraining, 'mergeCounts'>;

export interface BpeProgressView {
  done: number;
  total: number;
  /** The merges learned since the last progress message. */
  merges: MergeView[];
}

export interface TokenizerStats {
  vocab_size: number;
  characters: number;
  bytes: number;
  tokens: number;
  tokens_per_char: number;
  bytes_per_token: number;
}

export interface TokenizerSummary {
  kind: TokenizerKind;
  vocabSize: number;
  /** Stats over the corpus it was trained on (or the text given to `tokenizerSummary`). */
  stats: TokenizerStats;
  millis: number;
  /** BPE's split pattern (read back from the tokenizer, so a loaded one knows it too). */
  pattern?: SplitPattern;
  /** How BPE training ended, for a tokenizer trained in this worker. */
  training?: BpeTrainingView;
}

/** A text cut into tokens: ids and their readable forms (`␣` for a space, `<0xE2>` for a partial byte). */
export interface Tokenized {
  ids: number[];
  strings: string[];
  /** The raw bytes of each token, as hex ("e2 80"), for the hover card. */
  bytes: string[];
  /** The text was longer than the limit and was cut. */
  truncated: boolean;
}

/** What the worker offers; each method is called through `CoreClient.call`. */
export interface CoreApi extends LabApi, Seq2SeqApi, FinetuneApi {
  version(): string;
  adapter(): AdapterReport;
  matmulCheck(backend: Backend): KernelCheck;
  corpora(): CorpusInfo[];
  generateCorpus(name: string, seed: number, approxBytes: number): string;
  /** The parameter count and training memory of a config (vocabSize included) for a batch, counted by the core. */
  modelSize(config: ModelConfig, batchSize: number): ModelSize;
  /** The training memory by part (f32 and f16, without and with checkpointing), counted by the core. */
  memoryReport(config: ModelConfig, options: Parameters<typeof import('../../js/src/index').memoryReport>[1]): MemoryReport;
  /** Each text in the readable form tokens are shown in (␣ for a space, \n for a newline). */
  displayTexts(texts: string[]): string[];
  /** Trains a tokenizer on `text`; BPE training sends `BpeProgressView` progress messages. */
  trainTokenizer(text: string, options: TokenizerOptions): TokenizerSummary;
  /** Cuts `text` (at most `maxChars` of it) into tokens with the current tokenizer. */
  tokenize(text: string, maxChars: number): Tokenized;
  /** The current tokenizer as tokenizer.json. */
  tokenizerJson(): string;
  /** Replaces the current tokenizer with one loaded from tokenizer.json (the old one stays on failure). */
  loadTokenizer(json: string, text: string): TokenizerSummary;
  /** How the current tokenizer cuts `text` (tokens, characters, compression). */
  tokenizerStats(text: string): TokenizerStats;
  /** The current tokenizer's last `limit` merges, newest first, with their counts when it was trained here. */
  tokenizerMerges(limit: number): MergeView[];
  /** How often each token id occurs in `text` with the current tokenizer (vocabSize entries). */
  tokenCounts(text: string): number[];
  /** Trains (sending `TrainProgress` messages) until the steps are done or it is paused or reset. */
  train(request: TrainRequest): TrainSummary;
  /** Asks a running `train` to stop after the current step; the model and optimiser state stay. */
  pauseTraining(): void;
  /** Forgets the model (and stops a running `train`). */
  resetModel(): void;
  /** Fault drills for the tests and the Backend panel: 'device' destroys the WebGPU device (as a GPU reset
   *  would), 'panic' makes the core panic (a bug), 'crash' throws an uncaught error that kills the worker. */
  simulateFault(kind: 'device' | 'panic' | 'crash'): void;
  /** The current model, or null. */
  modelInfo(): ModelInfo | null;
  /** Generates after `prompt`, sending the tokens as they are made (a `GenerateProgress` batch about once a frame). */
  generate(prompt: string, settings: GenerateSettings): GenerateDone;
  stopGeneration(): void;
  /** Attention of every layer and head for `text` (cut to the context). */
  attention(text: string): AttentionMaps;
  /** One head at one query in full, as the step-by-step view shows it. */
  attentionDetail(text: string, layer: number, head: number, query: number): import('./attention-math').AttentionStep;
  embeddings(): EmbeddingsView;
  /** The model as safetensors, with the tokenizer in its metadata. */
  saveModel(): Uint8Array;
  /** Replaces the model with one from safetensors bytes (the current one stays on failure). */
  loadModel(bytes: Uint8Array): ModelInfo;
  /** Replaces the model with a Hugging Face GPT-2 directory's files (name -> bytes); see hf-files.ts. */
  importHuggingFace(files: Record<string, Uint8Array>): ModelInfo;
  /** The model as a Hugging Face GPT-2 directory (name -> bytes), LoRA adapters merged in. */
  exportHuggingFace(): Record<string, Uint8Array>;
  /** The LoRA adapters alone in PEFT's format (adapter_config.json, adapter_model.safetensors). */
  exportAdapter(): Record<string, Uint8Array>;
  /** Trainable parameters and training memory of the current model against full fine-tuning, or null. */
  loraMemory(batchSize: number, seqLen: number): LoraMemory | null;
  /** A masked-language model's top `topK` guesses at each [MASK] of `text`, and its attention maps. */
  fillMask(text: string, topK: number): FillMaskView;
}

/** LoRA's settings in the Training panel (the package's LoraOptions). */
export interface LoraSettings {
  rank: number;
  alpha: number;
  dropout: number;
  targets: ('c_attn' | 'attn.c_proj' | 'c_fc' | 'mlp.c_proj')[];
}

/** What LoRA saves, counted by the package for the model as it is (Model.trainingBytes, modelSize). */
export interface LoraMemory {
  params: number;
  trainable: number;
  batchSize: number;
  seqLen: number;
  /** Training memory of this model (with adapters: no gradients or moments for the frozen weights). */
  bytes: number;
  /** Training memory of full fine-tuning of the same base model. */
  fullBytes: number;
}

export type Request = { id: number; method: keyof CoreApi; args: unknown[] };
export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; fatal?: boolean }
  | { id: number; progress: unknown };

// ---- The model: the package's Model, trained and read in the worker.

/** A run's settings: the package's TrainOptions that the Training panel sets. */
export interface RunOptions {
  batchSize: number;
  seqLen: number;
  gradAccum: number;
  /** The run's length: the learning-rate schedule ends here (a paused run continues up to it). */
  steps: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  evalInterval: number;
  seed: number;
  /** Activation checkpointing (every block). */
  checkpointActivations: boolean;
  /** 'f16': mixed precision (WebGPU with shader-f16 only; the panel offers it only there). */
  precision: 'f32' | 'f16';
}

/** The share of the corpus held out for validation: the end of the text, cut at a line start by the core
 *  (the package's splitText, the CLI's split). */
export const VAL_FRACTION = 0.1;

export interface TrainRequest {
  /** The shape of a new model (the vocabulary comes from the current tokenizer). */
  config: ModelConfig;
  options: RunOptions;
  /** The corpus; the worker splits it (VAL_FRACTION) and encodes it with the current tokenizer. */
  text: string;
  /** Keep the current weights (fine-tune on this text) instead of starting from fresh ones. */
  keepWeights: boolean;
  /** Continue a paused run where it stopped (same data, optimiser state and step count). */
  resume: boolean;
  /** Where to train. */
  backend: Backend;
  /** Send a snapshot of the weights every this many steps (default SNAPSHOT_EVERY); 0 turns them off. */
  snapshotEvery?: number;
  /** Fine-tune with LoRA adapters (keepWeights): only they train. Adapters already there are merged first. */
  lora?: LoraSettings;
}

/** Steps between snapshots of the weights during a run: what a lost device or a reload can cost at most. */
export const SNAPSHOT_EVERY = 50;

export type TrainProgress =
  /** `lossScale`, `skippedSteps`: f16 runs' dynamic loss scaling. */
  | { kind: 'step'; step: number; loss: number; lr: number; gradNorm: number; tokens: number; tokensPerSec: number; elapsedMs: number; lossScale?: number; skippedSteps?: number }
  /** `valAccuracy`: a masked-language model's masked-token accuracy. */
  | { kind: 'eval'; step: number; valLoss: number; valPpl: number; valAccuracy?: number }
  | { kind: 'paused'; step: number }
  /** The weights after `step` (safetensors, with the tokenizer), kept off the GPU so a fault loses little. */
  | { kind: 'snapshot'; step: number; bytes: Uint8Array }
  /** A LoRA run's adapters are in place: what trains and the memory it needs. */
  | { kind: 'lora'; memory: LoraMemory };

export interface TrainSummary {
  steps: number;
  /** Why training stopped early ('paused', 'reset', 'device-lost'), if it did. */
  stopped?: string;
  /** With 'device-lost': what the browser said, and the step of the snapshot the model was restored from
   *  (0: there was none yet, and the model is gone). The restored model is on the CPU. */
  reason?: string;
  restoredStep?: number;
}

export interface ModelInfo {
  backend: Backend;
  /** Whether generation, captures and saving work (always, since the package copies a WebGPU model's weights
   *  to the CPU when they are needed). */
  inspectable: boolean;
  paramCount: number;
  config: Required<ModelConfig>;
  /** tokenizer.json stored with loaded weights (the worker has switched to it), if any */
  tokenizerJson?: string;
  /** Parameters that train: fewer than paramCount when the model carries LoRA adapters. */
  trainable?: number;
}

export interface GenerateSettings {
  temperature: number;
  topK: number;
  topP: number;
  maxTokens: number;
  seed: number;
}

/** The tokens of one batch as they are made (the package's GeneratedBatch: flat typed arrays, token `i` is
 *  `ids[i]`, its alternatives `alternativeIds[i*k..(i+1)*k]`), with the readable text of every id in it the
 *  page has not been sent yet in this run. The first batch is the first token alone. */
export type GenerateProgress = Omit<GeneratedBatch, 'backend'> & { labels: [number, string][] };

/** One generated token as the page shows it (built from the batches). */
export interface GeneratedToken {
  id: number;
  text: string;
  /** the model's milliseconds for it */
  ms: number;
  /** its own probability under the model (before temperature, top-k and top-p) */
  prob: number;
  /** the likeliest tokens at this position (before sampling), with probabilities */
  alternatives: { text: string; prob: number }[];
}

/** What the worker answers when a generation ends (the tokens themselves came in the batches). */
export interface GenerateDone {
  promptTokens: number;
  count: number;
  /** the generated text, decoded (the prompt not repeated) */
  text: string;
  /** where the tokens were made: the GPU copy when the model trains on WebGPU */
  backend: Backend;
  /** Stop was pressed before max tokens */
  stopped: boolean;
  /** the model's own milliseconds for all tokens (reading the prompt included) */
  modelMs: number;
}

/** A generation as the page saw it (window.tpGenerated). */
export interface GenerateResult extends GenerateDone {
  tokens: GeneratedToken[];
  maxTokens: number;
  /** From pressing Generate to the first token on the page (reading the prompt included): the latency. */
  firstTokenMs: number;
  /** From pressing Generate to the last token on the page. */
  totalMs: number;
  /** Tokens per second of that whole time: the throughput a person sees. */
  tokensPerSec: number;
}

export interface AttentionMaps {
  tokens: string[];
  ids: number[];
  nLayer: number;
  nHead: number;
  t: number;
  /** (L, NH, T, T) */
  att: number[];
}

export interface EmbeddingsView {
  vocab: number;
  nEmbd: number;
  /** (V, C) */
  wte: number[];
  labels: string[];
  /** (T, C) learned position vectors; empty for sinusoidal and RoPE */
  positions: number[];
}

/** What the Fill the mask panel shows (fill-mask-view.ts makes it in the worker). */
export interface FillMaskView {
  /** The tokens as shown (␣ for a space, [MASK] for the mask). */
  tokens: string[];
  /** Each token's own text, to write the text back when a token is masked or unmasked. */
  raw: string[];
  /** One per [MASK], in order: the likeliest tokens there, most likely first. */
  masks: { position: number; predictions: { text: string; raw: string; prob: number }[] }[];
  /** The attention maps of the same tokens, (L, NH, T, T). */
  attention: { nLayer: number; nHead: number; t: number; att: number[] };
}
