// Models: create (from a config) or load (from safetensors), train with progress, pause and cancel,
// evaluate, generate (whole or streamed), read the attention, save.
//
// The core's CpuModel is synchronous; this wrapper runs it one step at a time and gives the event loop a turn
// between steps, so a page stays interactive and an AbortSignal or pause() gets through. For long runs in a
// page, use it from a Web Worker all the same.
import { checkSignal, guard, messageOf, PlaygroundError, wrapError } from './errors.js';
import { LoopControl, nextTask, runLoop } from './loop.js';
import { track } from './resources.js';
import { Tokenizer, type Token } from './tokenizer.js';
import { core, init } from './core.js';
import { hasWebGpu } from './gpu.js';
import { splitText } from './split.js';
import { Seq2SeqModel, type CreateSeq2SeqOptions } from './seq2seq.js';

/** Where a model runs: 'auto' picks the best available, 'webgpu' the GPU, 'cpu' WebAssembly on the CPU. */
export type Backend = 'auto' | 'webgpu' | 'cpu';

/** The shape of the transformer (a GPT: decoder-only). Missing fields take the defaults below. */
export interface ModelConfig {
  /** V: the number of token ids; default: the tokenizer's vocabSize. */
  vocabSize?: number;
  /** L: transformer blocks (default 2). */
  nLayer?: number;
  /** NH: attention heads per block (default 4); must divide nEmbd. */
  nHead?: number;
  /** C: the width of the residual stream (default 64). */
  nEmbd?: number;
  /** T: the longest context the model sees (default 64). */
  blockSize?: number;
  /** The feed-forward width as a multiple of C (default 4). */
  ffnMult?: number;
  activation?: 'gelu' | 'relu';
  positional?: 'learned' | 'sinusoidal' | 'rope';
  dropout?: number;
  bias?: boolean;
  attentionMask?: 'causal' | 'bidirectional';
  /** What the model learns (default 'causal'): the next token (a decoder, GPT), or masked tokens ('mlm', an
   *  encoder, BERT: 15% of each window chosen, of those 80% shown as `[MASK]`, 10% a random token, 10% as they
   *  are). An 'mlm' model reads both ways (attentionMask defaults to 'bidirectional') and has one token id more
   *  than its tokenizer: the last, `[MASK]` (see Model.fillMask). */
  objective?: 'causal' | 'mlm';
}

/** The training objective: 'causal' (next token) or 'mlm' (masked-language model). */
export type Objective = 'causal' | 'mlm';

/** How `[MASK]` is written in text given to a masked-language model. */
export const MASK_TOKEN = '[MASK]';

export const DEFAULT_CONFIG: Readonly<Required<Omit<ModelConfig, 'vocabSize'>>> = {
  nLayer: 2,
  nHead: 4,
  nEmbd: 64,
  blockSize: 64,
  ffnMult: 4,
  activation: 'gelu',
  positional: 'learned',
  dropout: 0,
  bias: true,
  attentionMask: 'causal',
  objective: 'causal',
};

export interface CreateModelOptions {
  config?: ModelConfig;
  /** Default 'auto'. */
  backend?: Backend;
  /** The tokenizer of the model's text (needed for train({ text }), generate(text), attention(text)). */
  tokenizer?: Tokenizer;
  /** Seed of the initial weights (default 1). */
  seed?: number;
  /** On WebGPU: 'adapter' (default) asks for the adapter's own limits; 'default' for WebGPU's default limits
   *  (128 MiB per storage binding, 256 MiB per buffer), what every WebGPU device offers. */
  gpuLimits?: GpuLimits;
}

/** Which WebGPU limits a model asks for: the adapter's own, or WebGPU's defaults (what every device offers). */
export type GpuLimits = 'adapter' | 'default';

export interface LoadModelOptions {
  backend?: Backend;
  /** The tokenizer to use; default: the one saved inside the file, if any. */
  tokenizer?: Tokenizer;
  /** See CreateModelOptions.gpuLimits. A loaded model the device can run but not train opens on WebGPU for
   *  generation only (`backendReason` says "generation only on this device: ..."); one it cannot even hold is
   *  refused with "this GPU cannot hold the model ...". */
  gpuLimits?: GpuLimits;
}

/** The files of a Hugging Face directory or a PEFT adapter: file name -> bytes, or the File objects a person
 *  picked or dropped (`<input type="file" multiple>`). Folders in names are ignored. */
export type ModelFiles =
  | Readonly<Record<string, ArrayBuffer | ArrayBufferView>>
  | readonly { readonly name: string; arrayBuffer(): Promise<ArrayBuffer> }[];

/** A layer of GPT-2's blocks that can carry a LoRA adapter (PEFT's `target_modules` names). */
export type LoraTarget = 'c_attn' | 'attn.c_proj' | 'c_fc' | 'mlp.c_proj';

export interface LoraOptions {
  /** r: the adapters' rank. */
  rank: number;
  /** The update is scaled by alpha / rank. Default: 2 x rank. */
  alpha?: number;
  /** Dropout on the adapters' input while training. Default 0. */
  dropout?: number;
  /** Default: ['c_attn']. */
  targets?: readonly LoraTarget[];
  /** Seed of the adapters' initialisation (PEFT's: A uniform, B zero). Default 1. */
  seed?: number;
}

const LORA_ORDER: readonly LoraTarget[] = ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'];

/** Files as the core takes them: file name -> Uint8Array. */
async function fileBytes(files: ModelFiles, what: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  if (Array.isArray(files)) {
    for (const file of files as readonly { name: string; arrayBuffer(): Promise<ArrayBuffer> }[]) out[file.name] = new Uint8Array(await file.arrayBuffer());
    return out;
  }
  if (typeof files !== 'object' || files === null) throw new PlaygroundError(`${what}: give the files as an object of name -> bytes, or File objects`);
  for (const [name, bytes] of Object.entries(files as Record<string, ArrayBuffer | ArrayBufferView>)) {
    if (bytes instanceof ArrayBuffer) out[name] = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes)) out[name] = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    else throw new PlaygroundError(`${what}: ${name} must be bytes (ArrayBuffer or Uint8Array)`);
  }
  return out;
}

export interface TrainOptions {
  /** Text to train on, cut by the model's tokenizer; the last `valFraction` of it is kept for validation, cut
   *  at a line start as the CLI cuts it (see splitText). */
  text?: string;
  /** Or token ids directly (and optionally validation ids). */
  tokens?: Uint32Array | readonly number[];
  valTokens?: Uint32Array | readonly number[];
  /** Default 0.1. */
  valFraction?: number;
  /** Steps this call runs (default 100). */
  steps?: number;
  /** Steps of the learning-rate schedule (warmup then cosine decay); default `steps`. */
  scheduleSteps?: number;
  batchSize?: number;
  /** Tokens per sequence (default: the model's blockSize). */
  seqLen?: number;
  gradAccum?: number;
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  gradClip?: number;
  /** Activation checkpointing: keep only the blocks' inputs in the forward pass and recompute their activations
   *  in the backward pass (same gradients, less memory, about one more forward pass of time). */
  checkpointActivations?: boolean;
  /** With checkpointActivations: blocks per recomputed group (default 1). */
  checkpointEvery?: number;
  /** Evaluate the validation loss every this many steps (default 50; 0: never). */
  evalInterval?: number;
  evalBatches?: number;
  /** Seed of the batch sampler and dropout (default 1337). */
  seed?: number;
  /** Data augmentation of the training batches (never of validation); off by default. Works on the CPU and on
   *  WebGPU alike (the batches are drawn on the CPU). See previewBatch() to read what the model then sees. */
  augment?: AugmentOptions;
  /** 'f32' (default), or 'f16': mixed precision on WebGPU (f16 activations and weight copy, f32 master weights
   *  and AdamW state, dynamic loss scaling; progress then reports lossScale and skippedSteps). Needs an adapter
   *  with shader-f16: see Model.f16, which says why when it is unavailable. */
  precision?: 'f32' | 'f16';
  /** Take a snapshot of the weights every this many steps (default 50; 0: never). On WebGPU a snapshot copies
   *  the weights to the CPU, so a lost GPU device costs at most this many steps; on the CPU snapshots are only
   *  taken for `onSnapshot`. */
  snapshotEvery?: number;
  /** Called with each snapshot's step and the weights as safetensors (with the tokenizer, as save() writes
   *  them): keep them somewhere safe (IndexedDB, a file) to survive a crash or a reload. */
  onSnapshot?: (snapshot: TrainSnapshot) => void;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** Called after every evaluation. */
  onEval?: (result: EvalResult) => void;
  /** Stops training after the current step: the promise rejects with an AbortError; the weights stay. */
  signal?: AbortSignal;
}

/** Augmentation of the training batches, each kind with its probability (all 0: none), drawn from the run's
 *  seed, so a run stays reproducible. Replacement and masking change what the model reads, never the target
 *  (the true next token); span deletion removes pieces of the text before the window is cut. Causal models only. */
export interface AugmentOptions {
  /** Probability that an input token becomes a random token of the training text. */
  replace?: number;
  /** Probability that an input token becomes the mask token. */
  mask?: number;
  /** Probability that a span of 1..maxSpan tokens is deleted before each token of the window. */
  delete?: number;
  /** Longest deleted span (default 3). */
  maxSpan?: number;
  /** The token id that stands for a masked token (default: the vocabulary's last id; for the character
   *  tokenizer its unknown token, which the data never holds). */
  maskId?: number;
}

/** One row of previewBatch(): the window of the training text and what the model reads (T tokens each). */
export interface BatchPreviewRow {
  window: Uint32Array;
  inputs: Uint32Array;
  /** Each token as text (the tokenizer's display of it; ids as numbers without a tokenizer). */
  windowTokens: string[];
  inputTokens: string[];
  /** Positions where the model reads another token than the text's (replaced, masked, or shifted by deletion). */
  changed: number;
}

export interface BatchPreview {
  rows: BatchPreviewRow[];
  seqLen: number;
}

/** The weights after `step`, as safetensors bytes (loadModel() reads them back). */
export interface TrainSnapshot {
  step: number;
  bytes: Uint8Array;
}

/** What one optimiser step reports. */
export interface TrainProgress {
  /** Steps taken since the training data was set. */
  step: number;
  /** Index of this step within this train() call (1-based) and the steps the call runs. */
  done: number;
  total: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens this step processed, and the throughput of this call so far. */
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
  /** precision 'f16': the loss scale of this step, whether the step was skipped (its scaled gradients
   *  overflowed: weights unchanged, scale halved) and the steps skipped so far. */
  lossScale?: number;
  skipped?: boolean;
  skippedSteps?: number;
}

/** Whether `precision: 'f16'` can train here, and if not, why (a sentence to show). */
export interface F16Support {
  available: boolean;
  reason: string;
}

export interface EvalResult {
  step: number;
  valLoss: number;
  valPerplexity: number;
  /** A masked-language model's masked-token accuracy: the share of masked positions whose most likely token is
   *  the original one (loss and perplexity are over those positions too). */
  valAccuracy?: number;
}

/** The likeliest tokens at one `[MASK]` of a text (see Model.fillMask). */
export interface MaskPrediction {
  /** The position of the `[MASK]` among the text's tokens. */
  position: number;
  /** Most likely first, `[MASK]` itself left out. */
  predictions: (Token & { prob: number })[];
}

/** What Model.fillMask found. */
export interface FillMaskResult {
  /** The text's tokens as the model read them, `[MASK]` included (pass `ids` to attention() for the maps). */
  tokens: Token[];
  ids: Uint32Array;
  /** One entry per `[MASK]`, in order. */
  masks: MaskPrediction[];
}

export interface TrainResult {
  steps: number;
  /** The loss of the last step. */
  loss: number;
  /** The last validation result, if one was computed. */
  eval: EvalResult | null;
  elapsedMs: number;
  tokensPerSecond: number;
}

export interface GenerateOptions {
  /** Default 100. */
  maxTokens?: number;
  /** 0 is greedy (always the most likely token); default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to topP (1: all). */
  topP?: number;
  /** Default 1: the same seed gives the same text. */
  seed?: number;
  /** Stop after this token id (say, the tokenizer's '<|endoftext|>'). */
  endToken?: number;
  signal?: AbortSignal;
}

/** One generated token (see Model.generateTokens). */
export interface GeneratedToken {
  id: number;
  /** A readable form of the token (␣ for a space, <0xE2> for a stray byte). */
  text: string;
  /** Milliseconds the model took for this token (the first includes reading the prompt). */
  ms: number;
  /** The token's own probability under the model (the softmax of the scores it was drawn from, before
   *  temperature, top-k and top-p). */
  prob: number;
  /** The likeliest tokens at this position before sampling, most likely first, with their probabilities. */
  alternatives: (Token & { prob: number })[];
}

/** The tokens one step of Model.generateBatches made, as flat typed arrays: token `i` is `ids[i]`, its
 *  alternatives are `alternativeIds[i * k .. (i + 1) * k]`. No object per token, so a stream of thousands of
 *  tokens a second leaves the garbage collector alone and moves between threads in one copy. */
export interface GeneratedBatch {
  /** (n) token ids */
  ids: Uint32Array;
  /** (n) milliseconds the model took for each (the first token of a call includes reading the prompt) */
  ms: Float64Array;
  /** (n) each token's own probability (see GeneratedToken.prob) */
  probs: Float32Array;
  /** alternatives per token */
  k: number;
  /** (n, k) the likeliest ids at each position before sampling, most likely first */
  alternativeIds: Uint32Array;
  /** (n, k) their probabilities */
  alternativeProbs: Float32Array;
  /** Where the tokens were made: 'webgpu' when the model trains there, else 'cpu'. */
  backend: 'cpu' | 'webgpu';
}

/** Options of Model.generateBatches and generateTokens. */
export interface StreamOptions extends GenerateOptions {
  /** How many of the likeliest tokens to report at each position (default 5). */
  alternatives?: number;
  /** About how many milliseconds of tokens each batch holds (default 16, about a frame); the first batch is
   *  always the first token alone, so its arrival is the time to the first token. */
  batchMs?: number;
}

/** The core's streams (crate/src/wasm/stream.rs): TokenStream on the CPU, GpuTokenStream on WebGPU. */
interface CoreTokenBatch {
  readonly ids: Uint32Array;
  readonly ms: Float64Array;
  readonly probs: Float32Array;
  readonly alternativeIds: Uint32Array;
  readonly alternativeProbs: Float32Array;
  readonly k: number;
  free(): void;
}
interface CoreTokenStream {
  nextBatch(count: number, budgetMs: number): CoreTokenBatch | undefined | Promise<CoreTokenBatch | undefined>;
  free(): void;
}

/** What Model.inspect() found for one input. */
export interface Inspection {
  tokens: Token[];
  /** Per position: the likeliest next tokens and their probabilities. */
  topK: { position: number; tokens: Token[]; probs: Float32Array }[];
  /** Per LayerNorm (ln_1 and ln_2 of each block, ln_f): the mean and 1/std of its input at each position (T). */
  layerNorms: { name: string; mean: Float32Array; rstd: Float32Array }[];
  /** Per block: statistics of the FFN's hidden activations (after GELU/ReLU). */
  ffn: {
    layer: number;
    mean: number;
    std: number;
    min: number;
    max: number;
    /** The share of activations above zero, over all units and per unit. */
    activeFraction: number;
    unitActiveFraction: Float32Array;
    histogram: Uint32Array;
  }[];
}

/** One head at one query position, step by step (see Model.attentionStep). */
export interface AttentionStep {
  layer: number;
  head: number;
  query: number;
  /** hs: the head size; scores are scaled by `scale` = 1/√hs. */
  headSize: number;
  scale: number;
  tokens: Token[];
  /** (hs) the query's vector. */
  q: Float32Array;
  /** (T, hs) each position's key and value. */
  keys: Float32Array[];
  values: Float32Array[];
  /** (T) q·k, then scaled, whether the query may see the key (causal mask), the softmax, and (hs) the output. */
  rawScores: Float32Array;
  scaledScores: Float32Array;
  visible: boolean[];
  weights: Float32Array;
  output: Float32Array;
}

/** The embedding tables (see Model.embeddings). */
export interface Embeddings {
  vocabSize: number;
  nEmbd: number;
  /** The token of each row of `wte`. */
  tokens: Token[];
  /** (V, C) */
  wte: Float32Array;
  /** (T, C) learned position vectors; empty for sinusoidal and RoPE. */
  positions: Float32Array;
}

type RawInspection = {
  top_k: { position: number; tokens: number[]; probs: number[] }[];
  layernorm: { name: string; mean: number[]; rstd: number[] }[];
  ffn: { layer: number; mean: number; std: number; min: number; max: number; active_fraction: number; unit_active_fraction: number[]; histogram: number[] }[];
};
type RawHeadDetail = {
  head_size: number;
  scale: number;
  q: number[];
  keys: number[];
  values: number[];
  raw_scores: number[];
  scaled_scores: number[];
  visible: boolean[];
  weights: number[];
  output: number[];
};

/** Attention probabilities of every layer and head for one input. */
export interface AttentionMaps {
  tokens: Token[];
  nLayer: number;
  nHead: number;
  /** T: the number of tokens. */
  t: number;
  /** (L, NH, T, T): row = query position, column = key position; each row sums to 1. */
  att: Float32Array;
  /** The (T, T) grid of one head. */
  head(layer: number, head: number): Float32Array;
}

/** The CpuModel of the core (crate/src/wasm/model.rs), as this wrapper uses it. */
interface CoreModel {
  readonly paramCount: number;
  readonly stepCount: number;
  readonly tokenizerJson: string | undefined;
  configJson(): string;
  setTrainingData(train: Uint32Array, val: Uint32Array, options: unknown): void;
  step(): { step: number; loss: number; lr: number; grad_norm: number; tokens: number };
  evaluate(): RawEval;
  evalDue(): boolean;
  generate(prompt: Uint32Array, options: unknown): Uint32Array;
  attention(tokens: Uint32Array): { n_layer: number; n_head: number; t: number; att: number[] };
  saveSafetensors(tokenizerJson?: string | null): Uint8Array;
  readonly trainableCount: number;
  trainingBytes(batchSize: number, seqLen: number): number;
  exportHuggingFace(tokenizerJson?: string | null): Record<string, Uint8Array>;
  addLora(lora: unknown, seed: number): void;
  mergeLora(): void;
  exportAdapter(): Record<string, Uint8Array>;
  importAdapter(files: Record<string, Uint8Array>): void;
  inspect(tokens: Uint32Array, k: number): RawInspection;
  attentionDetail(tokens: Uint32Array, layer: number, head: number, query: number): RawHeadDetail;
  embeddings(): { vocab_size: number; n_embd: number; wte: number[]; positions?: number[] };
  params(): Float32Array;
  setParams(params: Float32Array): void;
  free(): void;
}

type RawStep = {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  loss_scale?: number;
  skipped?: boolean;
  skipped_steps?: number;
};
type RawEval = { step: number; val_loss: number; val_ppl: number; val_accuracy?: number };

/** The GpuModel of the core (crate/src/wasm/gpu_model.rs): training on WebGPU. */
interface CoreGpuModel {
  setTrainingData(train: Uint32Array, val: Uint32Array, options: unknown): void;
  generate(prompt: Uint32Array, sampleOptions: unknown): Promise<Uint32Array>;
  startGeneration(prompt: Uint32Array, sampleOptions: unknown, alternatives: number): Promise<CoreTokenStream>;
  finishGeneration(stream: CoreTokenStream): void;
  step(): Promise<RawStep>;
  evaluate(): Promise<RawEval>;
  params(): Promise<Float32Array>;
  setParams(params: Float32Array): void;
  /** Why the device runs this model but cannot train it (opened for generation only), or undefined. */
  readonly generationOnly: string | undefined;
  free(): void;
}

interface CoreGpuModelClass {
  new (gpu: core.Gpu, config: unknown, seed: number, params?: Float32Array): CoreGpuModel;
}

/** The WebGPU side of a model: its device, the GPU copy it trains, and whether the CPU copy is behind. */
interface GpuSide {
  device: core.Gpu;
  model: CoreGpuModel;
  hasData: boolean;
  steps: number;
  evalInterval: number;
  /** The step where the learning-rate schedule ends: the last evaluation is due there. */
  scheduleSteps: number;
  behind: boolean;
  /** The step whose weights the CPU copy holds (the latest snapshot). */
  syncedStep: number;
  /** Why this device runs the model but cannot train it (its GPU copy generates; training is refused), or null. */
  generationOnly: string | null;
}

/** train() on WebGPU stopped because the device was lost (a GPU reset, a driver update, `simulateDeviceLoss`).
 *  The model has moved to the CPU with the weights of its latest snapshot, `restoredStep`; train() again (with
 *  text or tokens) to continue there. */
export class DeviceLostError extends PlaygroundError {
  override name = 'DeviceLostError';
  constructor(
    message: string,
    readonly lostAtStep: number,
    readonly restoredStep: number,
  ) {
    super(message);
  }
}

interface CoreModelClass {
  new (config: unknown, seed: number): CoreModel;
  loadSafetensors(bytes: Uint8Array): CoreModel;
  importHuggingFace(files: Record<string, Uint8Array>): CoreModel;
}

const CoreCpuModel = (): CoreModelClass => core.CpuModel as unknown as CoreModelClass;
const CoreGpuModel = (): CoreGpuModelClass => core.GpuModel as unknown as CoreGpuModelClass;

type Choice = { backend: 'cpu'; reason: string } | { backend: 'webgpu'; reason: string; device: core.Gpu };

/**
 * Picks where a new model runs. 'webgpu' needs the browser's WebGPU and the core's GpuModel; 'auto' takes
 * WebGPU only on a hardware adapter: on a software one (SwiftShader, lavapipe) the CPU path is faster.
 */
async function chooseBackend(backend: Backend, what: string, limits: GpuLimits = 'adapter'): Promise<Choice> {
  if (backend !== 'auto' && backend !== 'cpu' && backend !== 'webgpu') {
    throw new PlaygroundError(`${what}: backend must be 'auto', 'webgpu' or 'cpu' (got '${String(backend)}')`);
  }
  if (backend === 'cpu') return { backend: 'cpu', reason: 'asked for the CPU' };
  let why: string | null = null;
  if (!hasWebGpu()) why = 'this environment has no WebGPU (navigator.gpu is missing)';
  if (why === null) {
    let device: core.Gpu | null = null;
    try {
      device = await (limits === 'default' ? core.Gpu.openWithDefaultLimits() : core.Gpu.open());
    } catch (error) {
      why = messageOf(error);
    }
    if (device) {
      const fallback = Boolean((device.summary() as { is_fallback?: boolean }).is_fallback);
      if (backend === 'webgpu' || !fallback) {
        track('gpu', 1);
        return { backend: 'webgpu', reason: backend === 'webgpu' ? 'asked for WebGPU' : 'a hardware WebGPU adapter is available', device };
      }
      device.free();
      return { backend: 'cpu', reason: 'the WebGPU adapter is a software fallback, slower than the CPU path' };
    }
  }
  if (backend === 'webgpu') throw new PlaygroundError(`${what}: WebGPU is not available: ${why}`);
  return { backend: 'cpu', reason: why! };
}

/** @internal The core's (serde) form of a config. */
export function snakeConfig(config: ModelConfig, vocabSize: number): Record<string, unknown> {
  const c = { ...DEFAULT_CONFIG, ...config };
  // A masked-language model reads both ways unless told otherwise.
  const attentionMask = config.attentionMask ?? (c.objective === 'mlm' ? 'bidirectional' : c.attentionMask);
  return {
    vocab_size: vocabSize,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_embd: c.nEmbd,
    block_size: c.blockSize,
    ffn_mult: c.ffnMult,
    activation: c.activation,
    positional: c.positional,
    dropout: c.dropout,
    bias: c.bias,
    attention_mask: attentionMask,
    objective: c.objective,
  };
}

function camelConfig(json: string): Required<ModelConfig> {
  const c = JSON.parse(json) as Record<string, never>;
  return {
    vocabSize: c.vocab_size,
    nLayer: c.n_layer,
    nHead: c.n_head,
    nEmbd: c.n_embd,
    blockSize: c.block_size,
    ffnMult: c.ffn_mult,
    activation: c.activation,
    positional: c.positional,
    dropout: c.dropout,
    bias: c.bias,
    attentionMask: c.attention_mask,
    objective: c.objective ?? 'causal',
  };
}

/** The extra token ids a model has beyond its tokenizer's: 1 (`[MASK]`) for a masked-language model. */
function extraIds(objective: Objective | undefined): number {
  return objective === 'mlm' ? 1 : 0;
}

/** @internal The core's (serde) training options of a train() call of `steps` steps. */
export function coreTrainOptions(options: TrainOptions, steps: number, what: string): CoreTrainOptions {
  const trainOptions: CoreTrainOptions = {
    steps: options.scheduleSteps ?? Math.max(steps, 1),
    eval_interval: options.evalInterval ?? 50,
  };
  const names: [keyof TrainOptions, string][] = [
    ['batchSize', 'batch_size'],
    ['seqLen', 'seq_len'],
    ['gradAccum', 'grad_accum'],
    ['lr', 'lr'],
    ['minLr', 'min_lr'],
    ['warmupSteps', 'warmup_steps'],
    ['weightDecay', 'weight_decay'],
    ['gradClip', 'grad_clip'],
    ['evalBatches', 'eval_batches'],
    ['seed', 'seed'],
  ];
  for (const [name, snake] of names) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new PlaygroundError(`${what}: ${name} must be a finite number (got ${String(value)})`);
    trainOptions[snake] = value;
  }
  if (trainOptions.warmup_steps === undefined) trainOptions.warmup_steps = Math.min(20, Math.floor(trainOptions.steps / 10));
  if (options.augment !== undefined) trainOptions.augment = augmentJson(options.augment, what);
  return trainOptions;
}

/** @internal */
export type CoreTrainOptions = Record<string, number | string | Record<string, number>> & { steps: number; eval_interval: number };

/** The core's `augment` training option from the package's camelCase one, checked for finite numbers (the core
 *  checks the ranges and says what is wrong). */
export function augmentJson(augment: AugmentOptions, what: string): Record<string, number> {
  if (typeof augment !== 'object' || augment === null) throw new PlaygroundError(`${what}: augment must be an object such as { replace: 0.1, mask: 0.05 }`);
  const names: [keyof AugmentOptions, string][] = [
    ['replace', 'replace'],
    ['mask', 'mask'],
    ['delete', 'delete'],
    ['maxSpan', 'max_span'],
    ['maskId', 'mask_id'],
  ];
  const known = new Set(names.map(([name]) => name as string));
  for (const key of Object.keys(augment)) {
    if (!known.has(key)) throw new PlaygroundError(`${what}: there is no augmentation called '${key}': choose replace, mask, delete, maxSpan or maskId`);
  }
  const out: Record<string, number> = {};
  for (const [name, snake] of names) {
    const value = augment[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new PlaygroundError(`${what}: augment.${name} must be a finite number (got ${String(value)})`);
    out[snake] = value;
  }
  return out;
}

function ids(value: Uint32Array | readonly number[], what: string): Uint32Array {
  if (value instanceof Uint32Array) return value;
  if (!Array.isArray(value)) throw new PlaygroundError(`${what}: token ids must be a Uint32Array or an array of numbers`);
  for (const id of value) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new PlaygroundError(`${what}: token ids must be whole numbers (got ${id})`);
  }
  return Uint32Array.from(value);
}

/** A GPU model on `device` (which it then owns), with the weights `params` when given (then a model the device
 *  can run but not train opens for generation only). */
function openGpuSide(device: core.Gpu, config: unknown, seed: number, params: Float32Array | null, what: string): GpuSide {
  let model: CoreGpuModel | null = null;
  try {
    model = guard(what, () => new (CoreGpuModel())(device, config, seed, params ?? undefined));
    const generationOnly = model.generationOnly ?? null;
    return { device, model, hasData: false, steps: 0, evalInterval: 0, scheduleSteps: 0, behind: false, syncedStep: 0, generationOnly };
  } catch (error) {
    model?.free();
    device.free();
    track('gpu', -1);
    throw error;
  }
}

function freeGpuSide(gpu: GpuSide): void {
  gpu.model.free();
  gpu.device.free();
  track('gpu', -1);
}

/** A transformer, with its optimiser once it has training data. dispose() frees it. */
export class Model extends EventTarget {
  #inner: CoreModel | null;
  #gpu: GpuSide | null = null;
  #tokenizer: Tokenizer | null;
  #ownsTokenizer: boolean;
  #control = new LoopControl();
  #busy: string | null = null;
  /** A model disposed while busy: freed when the running call ends. */
  #pendingFree: CoreModel | null = null;
  #hasData = false;
  #backend: 'cpu' | 'webgpu';
  #backendReason: string;

  private constructor(inner: CoreModel, tokenizer: Tokenizer | null, ownsTokenizer: boolean, backend: 'cpu' | 'webgpu', reason: string, gpu: GpuSide | null) {
    super();
    this.#inner = inner;
    this.#gpu = gpu;
    this.#tokenizer = tokenizer;
    this.#ownsTokenizer = ownsTokenizer;
    this.#backend = backend;
    this.#backendReason = reason;
    track('model', 1);
  }

  /** Where the model trains: 'webgpu', or 'cpu' (chosen so, or after a lost GPU device). */
  get backend(): 'cpu' | 'webgpu' {
    return this.#backend;
  }

  /** Why this backend was chosen (for 'auto'), or why the model left WebGPU. */
  get backendReason(): string {
    return this.#backendReason;
  }

  /** Whether train({ precision: 'f16' }) can run: only on WebGPU, on an adapter with shader-f16 (not Chromium's
   *  SwiftShader, not many phones). Otherwise `reason` says why, and training stays f32. */
  get f16(): F16Support {
    const gpu = this.#gpu;
    if (!gpu) return { available: false, reason: `f16 training runs on WebGPU, and this model trains on the CPU (${this.#backendReason})` };
    let summary: { name?: unknown; features?: unknown } = {};
    try {
      summary = gpu.device.summary() as typeof summary;
    } catch {
      // A lost device: the next train() reports it.
    }
    const features = Array.isArray(summary.features) ? summary.features.map(String) : [];
    if (!features.includes('shader-f16')) {
      // (wgpu on the web does not see the adapter's name: often empty.)
      const name = typeof summary.name === 'string' && summary.name ? ` (${summary.name})` : '';
      return { available: false, reason: `this WebGPU adapter${name} does not offer shader-f16, which f16 training needs` };
    }
    return { available: true, reason: 'the WebGPU adapter offers shader-f16' };
  }

  /** Destroys this model's WebGPU device at once, as a GPU reset would: a running train() stops with a
   *  DeviceLostError and the model continues on the CPU from its latest snapshot. For testing how an app
   *  handles a lost device; does nothing on the CPU. */
  simulateDeviceLoss(): void {
    (this.#gpu?.device as { destroy?: () => void } | undefined)?.destroy?.();
  }

  /** A new model with random weights. */
  static async create(options: CreateModelOptions = {}): Promise<Model> {
    const what = 'could not create the model';
    await init();
    const Core = CoreCpuModel();
    const { config = {}, backend = 'auto', tokenizer, seed = 1 } = options;
    if (tokenizer?.disposed) throw new PlaygroundError(`${what}: the tokenizer was disposed`);
    if (config.objective !== undefined && config.objective !== 'causal' && config.objective !== 'mlm') {
      const seq2seq = (config.objective as string) === 'seq2seq' ? ': an encoder-decoder comes from createModel({ config, task })' : '';
      throw new PlaygroundError(`${what}: config.objective must be 'causal' or 'mlm' (got '${String(config.objective)}')${seq2seq}; 'seq2seq' needs a task`);
    }
    const extra = extraIds(config.objective);
    const vocabSize = config.vocabSize ?? (tokenizer ? tokenizer.vocabSize + extra : undefined);
    if (vocabSize === undefined) throw new PlaygroundError(`${what}: give config.vocabSize or a tokenizer`);
    if (tokenizer && vocabSize !== tokenizer.vocabSize + extra) {
      const mask = extra ? ' plus one for [MASK]' : '';
      throw new PlaygroundError(`${what}: config.vocabSize ${vocabSize} does not match the tokenizer's ${tokenizer.vocabSize} tokens${mask}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
    const snake = snakeConfig(config, vocabSize);
    const chosen = await chooseBackend(backend, what, options.gpuLimits);
    if (chosen.backend === 'cpu') {
      const inner = guard(what, () => new Core(snake, seed));
      return new Model(inner, tokenizer ?? null, false, 'cpu', chosen.reason, null);
    }
    // The GPU model first: it checks the config against the device's limits before anything large is
    // allocated. The CPU copy (generation, inspection, saving) is initialised from the same seed exactly so.
    const gpu = openGpuSide(chosen.device, snake, seed, null, what);
    try {
      const inner = guard(what, () => new Core(snake, seed));
      return new Model(inner, tokenizer ?? null, false, 'webgpu', chosen.reason, gpu);
    } catch (error) {
      freeGpuSide(gpu);
      throw error;
    }
  }

  /** A model from safetensors bytes (as save() writes them, or nanoGPT-named weights with our metadata). On
   *  WebGPU the weights are uploaded to a GPU model after they are read. */
  static async load(bytes: ArrayBuffer | ArrayBufferView, options: LoadModelOptions = {}): Promise<Model> {
    const what = 'could not load the model';
    await init();
    let view: Uint8Array;
    if (bytes instanceof ArrayBuffer) view = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes)) view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    else throw new PlaygroundError(`${what}: give the safetensors file as bytes (ArrayBuffer or Uint8Array)`);
    const inner = guard(what, () => CoreCpuModel().loadSafetensors(view));
    return Model.#opened(inner, options, what);
  }

  /** A model from a Hugging Face GPT-2 directory's files (config.json, model.safetensors, tokenizer.json), as
   *  `save_pretrained` writes them; pickles (pytorch_model.bin) are refused with advice. */
  static async loadHuggingFace(files: ModelFiles, options: LoadModelOptions = {}): Promise<Model> {
    const what = 'could not load the Hugging Face model';
    await init();
    const bytes = await fileBytes(files, what);
    const inner = guard(what, () => CoreCpuModel().importHuggingFace(bytes));
    return Model.#opened(inner, options, what);
  }

  /** A Model around a loaded core model: its tokenizer, and a GPU copy on WebGPU. */
  static async #opened(inner: CoreModel, options: LoadModelOptions, what: string): Promise<Model> {
    let gpu: GpuSide | null = null;
    try {
      const loaded = camelConfig(inner.configJson());
      const vocabSize = loaded.vocabSize - extraIds(loaded.objective);
      let tokenizer = options.tokenizer ?? null;
      let owns = false;
      if (!tokenizer && inner.tokenizerJson) {
        tokenizer = await Tokenizer.load(inner.tokenizerJson);
        owns = true;
      }
      if (tokenizer && tokenizer.vocabSize !== vocabSize) {
        if (owns) tokenizer.dispose();
        throw new PlaygroundError(`${what}: the model has ${vocabSize} token ids but the tokenizer has ${tokenizer.vocabSize}: they do not belong together`);
      }
      const chosen = await chooseBackend(options.backend ?? 'auto', what, options.gpuLimits);
      if (chosen.backend === 'webgpu') gpu = openGpuSide(chosen.device, inner.configJson(), 1, inner.params(), what);
      const reason = gpu?.generationOnly ? `generation only on this device: ${gpu.generationOnly}` : chosen.reason;
      return new Model(inner, tokenizer, owns, chosen.backend, reason, gpu);
    } catch (error) {
      inner.free();
      throw wrapError(what, error);
    }
  }

  #core(): CoreModel {
    if (this.#inner === null) throw new PlaygroundError('this model was disposed: create or load a new one');
    return this.#inner;
  }

  #text(what: string): Tokenizer {
    if (!this.#tokenizer) throw new PlaygroundError(`${what}: this model has no tokenizer: pass one to createModel() or loadModel()`);
    return this.#tokenizer;
  }

  /** One call at a time: training, generation and the rest share the model's buffers. */
  async #exclusive<T>(what: string, f: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new PlaygroundError(`cannot start ${what}: the model is busy (${this.#busy}); wait for it or cancel it`);
    this.#busy = what;
    try {
      return await f();
    } finally {
      this.#idle();
    }
  }

  /** A read of the weights. Between the steps of a running train() it sees the weights of the last step on the
   *  CPU (of the latest snapshot on WebGPU, whose device is busy); otherwise it waits for nothing and runs alone,
   *  like every other call. */
  async #read<T>(what: string, f: (inner: CoreModel) => Promise<T>): Promise<T> {
    if (this.#busy === 'training') return f(this.#core());
    return this.#exclusive(what, async () => f(await this.#sync()));
  }

  #idle(): void {
    this.#busy = null;
    this.#pendingFree?.free();
    this.#pendingFree = null;
    if (this.#inner === null) this.#freeGpu();
  }

  #freeGpu(): void {
    if (!this.#gpu) return;
    freeGpuSide(this.#gpu);
    this.#gpu = null;
  }

  get config(): Required<ModelConfig> {
    return camelConfig(this.#core().configJson());
  }

  get paramCount(): number {
    return this.#core().paramCount;
  }

  /** Optimiser steps taken since the training data was last set. */
  get stepCount(): number {
    const inner = this.#core();
    return this.#gpu ? this.#gpu.steps : inner.stepCount;
  }

  get tokenizer(): Tokenizer | null {
    return this.#tokenizer;
  }

  get disposed(): boolean {
    return this.#inner === null;
  }

  /** Whether train() is paused. */
  get paused(): boolean {
    return this.#control.paused;
  }

  /** Pauses a running train() after its current step; resume() continues it. */
  pause(): void {
    this.#control.pause();
  }

  resume(): void {
    this.#control.resume();
  }

  /**
   * Trains for `steps` steps. The first call needs `text` or `tokens`; later calls without them continue
   * with the same data and optimiser. Emits `progress` and `eval` events (detail: as the callbacks get) and
   * `trained` at the end. A diverging run (NaN or infinite loss) stops with an error and keeps the weights of
   * the last good step.
   */
  train(options: TrainOptions = {}): Promise<TrainResult> {
    const what = 'training failed';
    return this.#exclusive('training', async () => {
      const inner = this.#core();
      const { steps = 100, signal, onProgress, onEval, onSnapshot, snapshotEvery = 50 } = options;
      checkSignal(signal, 'training');
      if (!Number.isInteger(steps) || steps < 0) throw new PlaygroundError(`${what}: steps must be a whole number >= 0 (got ${steps})`);
      const hasData = options.text !== undefined || options.tokens !== undefined;
      // Precision and checkpointing go with new training data; refused ones change nothing.
      if (hasData) this.#memoryOptions(options, 'could not set the training data');
      const gpu = this.#gpu;
      if (hasData && gpu?.hasData) {
        // New data for a model on WebGPU: start a new run from its current weights (fine-tuning).
        const params = await gpu.model.params().catch(async (error: unknown) => {
          throw (await this.#deviceLoss(error)) ?? wrapError(what, error);
        });
        guard(what, () => gpu.model.setParams(params));
        gpu.hasData = false;
        gpu.steps = 0;
        gpu.syncedStep = 0;
      }
      if (hasData) this.#setData(options, steps);
      else if (!this.#hasData) {
        throw new PlaygroundError(`${what}: no training data yet: pass text (or tokens) to the first train() call`);
      }
      const start = performance.now();
      let tokens = 0;
      let last: TrainProgress | null = null;
      let lastEval: EvalResult | null = null;
      await runLoop({
        steps,
        what: 'training',
        signal,
        control: this.#control,
        step: async (i) => {
          if (this.#inner === null) throw new PlaygroundError('training stopped: the model was disposed');
          const gpu = this.#gpu;
          let s: RawStep;
          if (gpu) {
            s = await gpu.model.step().catch(async (error: unknown) => {
              throw (await this.#deviceLoss(error)) ?? wrapError(what, error);
            });
            gpu.steps = s.step;
            gpu.behind = true;
          } else s = guard(what, () => inner.step());
          tokens += s.tokens;
          const elapsedMs = performance.now() - start;
          const progress: TrainProgress = {
            step: s.step,
            done: i + 1,
            total: steps,
            loss: s.loss,
            lr: s.lr,
            gradNorm: s.grad_norm,
            tokens: s.tokens,
            tokensPerSecond: elapsedMs > 0 ? (tokens * 1000) / elapsedMs : 0,
            elapsedMs,
          };
          if (s.loss_scale !== undefined) {
            progress.lossScale = s.loss_scale;
            progress.skipped = s.skipped === true;
            progress.skippedSteps = s.skipped_steps ?? 0;
          }
          last = progress;
          onProgress?.(progress);
          this.dispatchEvent(new CustomEvent('progress', { detail: progress }));
          const g = this.#gpu;
          const due = g ? g.evalInterval > 0 && (s.step % g.evalInterval === 0 || s.step === g.scheduleSteps) : inner.evalDue();
          if (due) {
            lastEval = await this.#evaluate(inner);
            onEval?.(lastEval);
            this.dispatchEvent(new CustomEvent('eval', { detail: lastEval }));
          }
          // The snapshot after the step's progress and evaluation, so whoever keeps it has seen them.
          if (snapshotEvery > 0 && s.step % snapshotEvery === 0 && (this.#gpu || onSnapshot)) {
            if (this.#gpu) {
              await this.#sync().catch(async (error: unknown) => {
                throw (await this.#deviceLoss(error)) ?? error;
              });
            }
            this.#snapshot(s.step, onSnapshot);
          }
          return progress;
        },
      });
      const elapsedMs = performance.now() - start;
      const result: TrainResult = {
        steps,
        loss: (last as TrainProgress | null)?.loss ?? NaN,
        eval: lastEval,
        elapsedMs,
        tokensPerSecond: elapsedMs > 0 ? (tokens * 1000) / elapsedMs : 0,
      };
      this.dispatchEvent(new CustomEvent('trained', { detail: result }));
      return result;
    });
  }

  /** The core's options for precision and activation checkpointing, or a sentence saying what is wrong with them
   *  (checked before train() changes anything). */
  #memoryOptions(options: TrainOptions, what: string): { precision?: 'f16'; checkpoint_every?: number } {
    const out: { precision?: 'f16'; checkpoint_every?: number } = {};
    if (options.precision !== undefined && options.precision !== 'f32') {
      if (options.precision !== 'f16') throw new PlaygroundError(`${what}: precision must be 'f32' or 'f16' (got '${String(options.precision)}')`);
      const f16 = this.f16;
      if (!f16.available) throw new PlaygroundError(`${what}: f16 training is unavailable: ${f16.reason}; train with precision 'f32'`);
      out.precision = 'f16';
    }
    if (options.checkpointActivations !== undefined && typeof options.checkpointActivations !== 'boolean') {
      throw new PlaygroundError(`${what}: checkpointActivations must be true or false (got ${String(options.checkpointActivations)})`);
    }
    if (!options.checkpointActivations && options.checkpointEvery !== undefined) {
      throw new PlaygroundError(`${what}: checkpointEvery needs checkpointActivations: true`);
    }
    if (options.checkpointActivations) {
      const every = options.checkpointEvery ?? 1;
      if (!Number.isInteger(every) || every < 1) throw new PlaygroundError(`${what}: checkpointEvery must be a whole number >= 1 (got ${String(every)})`);
      out.checkpoint_every = every;
    }
    return out;
  }

  #setData(options: TrainOptions, steps: number): void {
    const what = 'could not set the training data';
    let train: Uint32Array;
    let val: Uint32Array;
    if (options.text !== undefined) {
      if (typeof options.text !== 'string') throw new PlaygroundError(`${what}: text must be a string`);
      const fraction = options.valFraction ?? 0.1;
      if (!(fraction >= 0 && fraction < 1)) throw new PlaygroundError(`${what}: valFraction must be in [0, 1) (got ${fraction})`);
      const parts = splitText(options.text, fraction);
      train = this.#text(what).encode(parts.train);
      val = this.#text(what).encode(parts.validation);
    } else {
      train = ids(options.tokens!, what);
      val = options.valTokens ? ids(options.valTokens, what) : new Uint32Array();
    }
    const trainOptions: CoreTrainOptions = { ...coreTrainOptions(options, steps, what), ...this.#memoryOptions(options, what) };
    const gpu = this.#gpu;
    if (gpu) {
      if (gpu.hasData) {
        throw new PlaygroundError(`${what}: this build of the core cannot give a model on WebGPU new training data; create a new model`);
      }
      guard(what, () => gpu.model.setTrainingData(train, val, trainOptions));
      gpu.hasData = true;
      gpu.evalInterval = trainOptions.eval_interval ?? 0;
      gpu.scheduleSteps = trainOptions.steps ?? 0;
    } else guard(what, () => this.#core().setTrainingData(train, val, trainOptions));
    this.#hasData = true;
  }

  async #evaluate(inner: CoreModel): Promise<EvalResult> {
    const e = this.#gpu
      ? await this.#gpu.model.evaluate().catch(async (error: unknown) => {
          throw (await this.#deviceLoss(error)) ?? wrapError('evaluation failed', error);
        })
      : guard('evaluation failed', () => inner.evaluate());
    const out: EvalResult = { step: e.step, valLoss: e.val_loss, valPerplexity: e.val_ppl };
    if (typeof e.val_accuracy === 'number') out.valAccuracy = e.val_accuracy;
    return out;
  }

  /** A GPU model's weights, copied to the CPU copy when it is behind (for generating, inspecting, saving). */
  async #sync(): Promise<CoreModel> {
    const inner = this.#core();
    const gpu = this.#gpu;
    if (gpu?.behind) {
      const params = await gpu.model.params().catch((error: unknown) => {
        throw wrapError('could not read the weights back from the GPU', error);
      });
      guard('could not copy the weights from the GPU', () => inner.setParams(params));
      gpu.behind = false;
      gpu.syncedStep = gpu.steps;
    }
    return inner;
  }

  /** Hands the weights of `step` to `onSnapshot` (safetensors with the tokenizer, as save() writes them). */
  #snapshot(step: number, onSnapshot: TrainOptions['onSnapshot']): void {
    if (!onSnapshot) return;
    const json = this.#tokenizer && !this.#tokenizer.disposed ? this.#tokenizer.save() : null;
    const bytes = guard('could not take a snapshot of the weights', () => this.#core().saveSafetensors(json));
    onSnapshot({ step, bytes });
  }

  /** When `error` comes from a lost WebGPU device: moves the model to the CPU copy (the latest snapshot) and
   *  returns the DeviceLostError to throw; otherwise null. */
  async #deviceLoss(error: unknown, doing = 'training'): Promise<DeviceLostError | null> {
    const gpu = this.#gpu;
    // Only a failure of the GPU itself (the core's "GPU error: …") can be a loss: a diverged run or bad data is
    // answered at once, without waiting for a device-lost report.
    if (!gpu || !/GPU error|device/i.test(messageOf(error))) return null;
    const device = gpu.device as unknown as { lostReason?: string };
    // The browser reports the loss (GPUDevice.lost) a moment after the failed call that revealed it.
    for (let waited = 0; !device.lostReason && waited < 1000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const reason = device.lostReason;
    if (!reason) return null;
    const lostAt = gpu.steps;
    const restored = gpu.syncedStep;
    this.#freeGpu();
    this.#hasData = false;
    this.#backend = 'cpu';
    this.#backendReason = `the WebGPU device was lost (${reason})`;
    return new DeviceLostError(
      `${doing} stopped: the WebGPU device was lost after step ${lostAt} (${reason}). The model now runs on the CPU ` +
        `with the weights of step ${restored}, its latest snapshot; call train() with text or tokens to continue. (${messageOf(error)})`,
      lostAt,
      restored,
    );
  }

  /** One optimiser step on the data of the last train() call. */
  async step(): Promise<TrainProgress> {
    let out: TrainProgress | null = null;
    await this.train({ steps: 1, onProgress: (p) => (out = p) });
    return out!;
  }

  /**
   * The first training batch that train() with these options would draw, as text: for each row the window of
   * the training text and what the model reads after augmentation (options.augment), token by token, so a
   * learner sees what the model sees. Draws nothing: training afterwards starts with this very batch.
   */
  previewBatch(options: Pick<TrainOptions, 'text' | 'tokens' | 'valFraction' | 'batchSize' | 'seqLen' | 'seed' | 'augment'> = {}): BatchPreview {
    const what = 'could not preview the batch';
    const config = this.config;
    let train: Uint32Array;
    if (options.text !== undefined) {
      if (typeof options.text !== 'string') throw new PlaygroundError(`${what}: text must be a string`);
      train = this.#text(what).encode(splitText(options.text, options.valFraction ?? 0.1).train);
    } else if (options.tokens !== undefined) train = ids(options.tokens, what);
    else throw new PlaygroundError(`${what}: give text or tokens`);
    const seqLen = options.seqLen ?? config.blockSize;
    const batchSize = options.batchSize ?? 16;
    const trainOptions: Record<string, unknown> = { batch_size: batchSize, seed: options.seed ?? 1337 };
    if (options.augment !== undefined) trainOptions.augment = augmentJson(options.augment, what);
    const flat = guard(what, () => core.previewBatch(train, config.vocabSize, seqLen, trainOptions));
    const tokenizer = this.#tokenizer;
    const strings = (row: Uint32Array): string[] => (tokenizer ? tokenizer.tokenStrings(row) : Array.from(row, String));
    const rows: BatchPreviewRow[] = [];
    for (let r = 0; r < batchSize; r++) {
      const window = flat.slice(r * seqLen, (r + 1) * seqLen);
      const inputs = flat.slice((batchSize + r) * seqLen, (batchSize + r + 1) * seqLen);
      let changed = 0;
      for (let i = 0; i < seqLen; i++) if (window[i] !== inputs[i]) changed++;
      rows.push({ window, inputs, windowTokens: strings(window), inputTokens: strings(inputs), changed });
    }
    return { rows, seqLen };
  }

  /** The validation loss over fixed batches of the held-out data. */
  evaluate(): Promise<EvalResult> {
    return this.#exclusive('evaluation', () => this.#evaluate(this.#core()));
  }

  #sampleOptions(options: GenerateOptions, maxTokens: number, seed: number): Record<string, unknown> {
    const { temperature = 1, topK = 0, topP = 1, endToken } = options;
    return { max_tokens: maxTokens, temperature, top_k: topK, top_p: topP, seed, end_token: endToken ?? null };
  }

  #prompt(prompt: string | Uint32Array | readonly number[], what: string): Uint32Array {
    const tokens = typeof prompt === 'string' ? this.#text(what).encode(prompt) : ids(prompt, what);
    if (tokens.length === 0) throw new PlaygroundError(`${what}: the prompt is empty: give at least one token`);
    const t = this.config.blockSize;
    return tokens.length > t ? tokens.slice(tokens.length - t) : tokens; // the model sees at most T tokens
  }

  /** Token ids after `prompt` (text, with the model's tokenizer, or ids). */
  generateIds(prompt: string | Uint32Array | readonly number[], options: GenerateOptions = {}): Promise<Uint32Array> {
    const what = 'could not generate';
    return this.#exclusive('generating', async () => {
      checkSignal(options.signal, what);
      const context = this.#prompt(prompt, what);
      const { maxTokens = 100, seed = 1 } = options;
      const sample = this.#sampleOptions(options, maxTokens, seed);
      // On WebGPU (a model that trains there, or runs there only) the GPU copy generates: the same tokens.
      const gpu = this.#gpu?.hasData || this.#gpu?.generationOnly ? this.#gpu : null;
      if (gpu) return gpu.model.generate(context, sample).catch((error: unknown) => Promise.reject(wrapError(what, error)));
      const inner = await this.#sync();
      return guard(what, () => inner.generate(context, sample));
    });
  }

  /** The text the model writes after `prompt` (the prompt itself is not repeated). */
  async generate(prompt: string | Uint32Array | readonly number[], options: GenerateOptions = {}): Promise<string> {
    const out = await this.generateIds(prompt, options);
    return guard('could not decode the generated tokens', () => this.#text('could not generate').decode(out));
  }

  /**
   * The generated text piece by piece, as it is made (generateTokens, decoded):
   *   for await (const piece of model.stream('Once', { maxTokens: 50 })) output.textContent += piece;
   * Pieces never split a character. Break out of the loop (or abort the signal) to stop.
   */
  async *stream(prompt: string | Uint32Array | readonly number[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    const tokenizer = this.#text('could not generate');
    const generated: number[] = [];
    let shown = '';
    for await (const token of this.generateTokens(prompt, { ...options, alternatives: 0 })) {
      generated.push(token.id);
      const text = tokenizer.decode(generated);
      // Hold back a trailing U+FFFD: the next token may complete the character.
      const ready = text.endsWith('\uFFFD') ? text.slice(0, -1) : text;
      if (ready.length > shown.length && ready.startsWith(shown)) {
        yield ready.slice(shown.length);
        shown = ready;
      }
    }
    const final = tokenizer.decode(generated);
    if (final.length > shown.length && final.startsWith(shown)) yield final.slice(shown.length);
  }

  /** The attention of every layer and head for `input` (text, with the model's tokenizer, or ids). */
  attention(input: string | Uint32Array | readonly number[]): Promise<AttentionMaps> {
    const what = 'could not read the attention';
    return this.#read('reading attention', async (inner) => {
      const tokens = this.#tokens(input, what);
      const capture = guard(what, () => inner.attention(tokens));
      const att = Float32Array.from(capture.att);
      const { n_layer: nLayer, n_head: nHead, t: n } = capture;
      return {
        tokens: this.#labels(tokens),
        nLayer,
        nHead,
        t: n,
        att,
        head(layer: number, head: number): Float32Array {
          if (!(layer >= 0 && layer < nLayer && head >= 0 && head < nHead)) {
            throw new PlaygroundError(`there is no layer ${layer}, head ${head}: the model has ${nLayer} layers of ${nHead} heads`);
          }
          const start = (layer * nHead + head) * n * n;
          return att.subarray(start, start + n * n);
        },
      };
    });
  }

  #tokens(input: string | Uint32Array | readonly number[], what: string): Uint32Array {
    const tokens = typeof input === 'string' ? this.#text(what).encode(input) : ids(input, what);
    if (tokens.length === 0) throw new PlaygroundError(`${what}: there are no tokens to look at`);
    const t = this.config.blockSize;
    if (tokens.length > t) throw new PlaygroundError(`${what}: ${tokens.length} tokens are more than the model's context of ${t}`);
    return tokens;
  }

  #labels(tokens: ArrayLike<number>): Token[] {
    const list = Array.from(tokens);
    const mask = this.#maskId();
    const known = list.map((id) => (id === mask ? 0 : id));
    const strings = this.#tokenizer && !this.#tokenizer.disposed ? this.#tokenizer.tokenStrings(known) : list.map(String);
    return list.map((id, i) => ({ id, text: id === mask ? MASK_TOKEN : (strings[i] ?? String(id)) }));
  }

  /** The id of `[MASK]`: the last id of a masked-language model; null for a causal one. */
  #maskId(): number | null {
    const c = this.config;
    return c.objective === 'mlm' ? c.vocabSize - 1 : null;
  }

  /** The ids of `text` with each `[MASK]` as the mask token; a causal model has none, so `[MASK]` is an error. */
  #masked(text: string, what: string): Uint32Array {
    if (typeof text !== 'string') throw new PlaygroundError(`${what}: give the text as a string`);
    const mask = this.#maskId();
    if (mask === null) {
      throw new PlaygroundError(
        `${what}: this model was trained with the causal objective (the next token) and has no ${MASK_TOKEN} token: ` +
          `create it with config.objective 'mlm' to fill in masked tokens`,
      );
    }
    if (!text.includes(MASK_TOKEN)) throw new PlaygroundError(`${what}: the text has no ${MASK_TOKEN}: write ${MASK_TOKEN} where the model should fill in a token`);
    const tokenizer = this.#text(what);
    const out: number[] = [];
    text.split(MASK_TOKEN).forEach((piece, i) => {
      if (i > 0) out.push(mask);
      out.push(...tokenizer.encode(piece));
    });
    return this.#tokens(Uint32Array.from(out), what);
  }

  /**
   * A masked-language model's guesses at each `[MASK]` of `text`: the `topK` likeliest tokens (default 5) with
   * their probabilities, reading the whole text both ways.
   *   const { masks } = await model.fillMask('Mira w[MASK]lks to the hill.');
   *   masks[0].predictions[0]  // { id, text: 'a', prob: 0.93 }
   * Throws for a causal model, for text without `[MASK]` and for text longer than the context.
   */
  fillMask(text: string, options: { topK?: number } = {}): Promise<FillMaskResult> {
    const what = 'could not fill the mask';
    const k = options.topK ?? 5;
    if (!Number.isInteger(k) || k < 1) return Promise.reject(new PlaygroundError(`${what}: topK must be a whole number of at least 1`));
    return this.#read('filling the mask', async (inner) => {
      const tokens = this.#masked(text, what);
      const mask = this.#maskId()!;
      const raw = guard(what, () => inner.inspect(tokens, k + 1));
      const masks: MaskPrediction[] = [];
      tokens.forEach((id, position) => {
        if (id !== mask) return;
        const top = raw.top_k[position]!;
        const keep = top.tokens.map((t, i) => [t, top.probs[i]!] as const).filter(([t]) => t !== mask).slice(0, k);
        const labels = this.#labels(keep.map(([t]) => t));
        masks.push({ position, predictions: labels.map((label, i) => ({ ...label, prob: keep[i]![1] })) });
      });
      return { tokens: this.#labels(tokens), ids: tokens, masks };
    });
  }

  /**
   * What the model computes on `input` (text or ids, at most blockSize tokens): the `topK` likeliest next tokens
   * at every position, the mean and 1/std of every LayerNorm's input, and statistics of every FFN's activations.
   */
  inspect(input: string | Uint32Array | readonly number[], options: { topK?: number } = {}): Promise<Inspection> {
    const what = 'could not inspect the model';
    return this.#read('inspecting', async (inner) => {
      const tokens = this.#tokens(input, what);
      const raw = guard(what, () => inner.inspect(tokens, options.topK ?? 5));
      return {
        tokens: this.#labels(tokens),
        topK: raw.top_k.map((t) => ({ position: t.position, tokens: this.#labels(t.tokens), probs: Float32Array.from(t.probs) })),
        layerNorms: raw.layernorm.map((n) => ({ name: n.name, mean: Float32Array.from(n.mean), rstd: Float32Array.from(n.rstd) })),
        ffn: raw.ffn.map((f) => ({
          layer: f.layer,
          mean: f.mean,
          std: f.std,
          min: f.min,
          max: f.max,
          activeFraction: f.active_fraction,
          unitActiveFraction: Float32Array.from(f.unit_active_fraction),
          histogram: Uint32Array.from(f.histogram),
        })),
      };
    });
  }

  /** One attention head at one query position in full, every number of softmax(q·kᵀ/√hs)·v as it happens. */
  attentionStep(input: string | Uint32Array | readonly number[], layer: number, head: number, query: number): Promise<AttentionStep> {
    const what = 'could not read the attention step';
    return this.#read('reading attention', async (inner) => {
      const tokens = this.#tokens(input, what);
      const d = guard(what, () => inner.attentionDetail(tokens, layer, head, query));
      const hs = d.head_size;
      const rows = (flat: number[]) => Array.from({ length: flat.length / hs }, (_, t) => Float32Array.from(flat.slice(t * hs, (t + 1) * hs)));
      return {
        layer,
        head,
        query,
        headSize: hs,
        scale: d.scale,
        tokens: this.#labels(tokens),
        q: Float32Array.from(d.q),
        keys: rows(d.keys),
        values: rows(d.values),
        rawScores: Float32Array.from(d.raw_scores),
        scaledScores: Float32Array.from(d.scaled_scores),
        visible: d.visible.slice(),
        weights: Float32Array.from(d.weights),
        output: Float32Array.from(d.output),
      };
    });
  }

  /** The token embedding table (V, C), with a label per token, and the learned position table (T, C) if any. */
  embeddings(): Promise<Embeddings> {
    return this.#read('reading the embeddings', async (inner) => {
      const e = guard('could not read the embeddings', () => inner.embeddings());
      return {
        vocabSize: e.vocab_size,
        nEmbd: e.n_embd,
        tokens: this.#labels(Array.from({ length: e.vocab_size }, (_, id) => id)),
        wte: Float32Array.from(e.wte),
        positions: Float32Array.from(e.positions ?? []),
      };
    });
  }

  /** All weights, flat, in nanoGPT's order (the same on both backends): for moving a model's weights into another
   *  model of the same config, on another backend (setWeights). */
  weights(): Promise<Float32Array> {
    return this.#exclusive('reading the weights', async () => (await this.#sync()).params().slice());
  }

  /** Replaces all weights (as weights() returns them). The next train() with text or tokens starts a new run from
   *  them (fine-tuning); the optimiser's moments are kept when it continues without new data. */
  setWeights(params: Float32Array): Promise<void> {
    const what = 'could not set the weights';
    return this.#exclusive('setting the weights', async () => {
      const inner = this.#core();
      guard(what, () => inner.setParams(params));
      const gpu = this.#gpu;
      if (gpu) {
        guard(what, () => gpu.model.setParams(params));
        gpu.behind = false;
        gpu.syncedStep = gpu.steps;
      }
    });
  }

  /**
   * The generated tokens in batches, as they are made, with the KV cache (each token costs one position's forward
   * pass), each with the `alternatives` likeliest tokens the model weighed at its position (before sampling):
   *   for await (const batch of model.generateBatches('Once', { maxTokens: 500 })) draw(batch.ids, batch.probs);
   * The first batch is the first token alone; then each holds about `batchMs` of tokens, and the event loop gets
   * a turn between batches. On WebGPU (a model that trains there) the GPU copy of the weights makes them;
   * `batch.backend` says where. Break out of the loop (or abort the signal) to stop.
   */
  async *generateBatches(prompt: string | Uint32Array | readonly number[], options: StreamOptions = {}): AsyncGenerator<GeneratedBatch, void, undefined> {
    const what = 'could not generate';
    if (this.#busy) throw new PlaygroundError(`cannot start generating: the model is busy (${this.#busy}); wait for it or cancel it`);
    this.#busy = 'generating';
    let stream: CoreTokenStream | null = null;
    const gpu = this.#gpu?.hasData || this.#gpu?.generationOnly ? this.#gpu : null;
    try {
      const { maxTokens = 100, seed = 1, alternatives = 5, signal, batchMs = 16 } = options;
      checkSignal(signal, what);
      const context = this.#prompt(prompt, what);
      const sample = this.#sampleOptions(options, maxTokens, seed);
      // A lost device moves the model to the CPU (its latest snapshot) and ends the call with a DeviceLostError.
      const onGpuError = async (error: unknown): Promise<never> => {
        throw (await this.#deviceLoss(error, 'generation')) ?? wrapError(what, error);
      };
      if (gpu) {
        stream = await gpu.model.startGeneration(context, sample, alternatives).catch(onGpuError);
      } else {
        const inner = await this.#sync();
        stream = guard(what, () => new core.TokenStream(inner as unknown as core.CpuModel, context, sample, alternatives)) as CoreTokenStream;
      }
      const backend = gpu ? 'webgpu' : 'cpu';
      for (let first = true; ; first = false) {
        checkSignal(signal, what);
        if (this.#inner === null) throw new PlaygroundError(`${what}: the model was disposed`);
        const made = stream!.nextBatch(first ? 1 : maxTokens, batchMs);
        const raw = made instanceof Promise ? await made.catch(onGpuError) : made;
        if (raw === undefined) break;
        const batch: GeneratedBatch = {
          ids: raw.ids,
          ms: raw.ms,
          probs: raw.probs,
          k: raw.k,
          alternativeIds: raw.alternativeIds,
          alternativeProbs: raw.alternativeProbs,
          backend,
        };
        raw.free();
        yield batch;
        // A turn for the event loop between batches, so a page draws them and a stop gets through.
        await nextTask();
      }
    } finally {
      // The GPU stream hands the trainer back to a GPU model that is still there (not after a lost device).
      if (stream && gpu && this.#gpu === gpu) gpu.model.finishGeneration(stream);
      else stream?.free();
      this.#idle();
    }
  }

  /**
   * The generated tokens one by one, as they are made (generateBatches, one object per token, with readable
   * texts):
   *   for await (const token of model.generateTokens('Once', { maxTokens: 50 })) output.textContent += token.text;
   * `ms` is the time the model took for the token. Break out of the loop (or abort the signal) to stop.
   */
  async *generateTokens(prompt: string | Uint32Array | readonly number[], options: StreamOptions = {}): AsyncGenerator<GeneratedToken, void, undefined> {
    // Each id's readable text, looked up in the tokenizer once per call.
    const texts = new Map<number, string>();
    const label = (id: number): Token => {
      let text = texts.get(id);
      if (text === undefined) texts.set(id, (text = this.#labels([id])[0]!.text));
      return { id, text };
    };
    for await (const batch of this.generateBatches(prompt, options)) {
      const k = batch.k;
      for (let i = 0; i < batch.ids.length; i++) {
        const alternatives = Array.from(batch.alternativeIds.subarray(i * k, (i + 1) * k), (id, j) => ({ ...label(id), prob: batch.alternativeProbs[i * k + j]! }));
        yield { ...label(batch.ids[i]!), ms: batch.ms[i]!, prob: batch.probs[i]!, alternatives };
      }
    }
  }

  /** Parameters that train: all of them, or with LoRA adapters only theirs. */
  get trainableCount(): number {
    return this.#core().trainableCount;
  }

  /** Bytes that training this model on batches of `batchSize` x `seqLen` tokens needs (default 16 x blockSize), as
   *  the core allocates them: weights, gradients, AdamW's moments, activations. With LoRA adapters the frozen
   *  weights have no gradients or moments; compare with `modelSize(model.config)` (full fine-tuning). */
  trainingBytes(options: { batchSize?: number; seqLen?: number } = {}): number {
    const inner = this.#core();
    const b = options.batchSize ?? 16;
    const t = options.seqLen ?? this.config.blockSize;
    for (const [name, v] of [['batchSize', b], ['seqLen', t]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new PlaygroundError(`could not count the training memory: ${name} must be a whole number of at least 1`);
    }
    // One sequence in the core (its usize sums stay within 32 bits on wasm32), the batch multiplied here, as
    // modelSize does: weights, gradients and moments are per model, the rest grows with the batch.
    const fixed = 4 * (inner.paramCount + 3 * inner.trainableCount);
    return fixed + b * (inner.trainingBytes(1, t) - fixed);
  }

  /** The model as a Hugging Face GPT-2 directory (file name -> bytes: config.json, model.safetensors,
   *  tokenizer.json, ...) that `AutoModelForCausalLM.from_pretrained` loads; LoRA adapters are merged in.
   *  Throws naming what GPT-2 cannot express (RoPE, sinusoidal positions, no biases). */
  saveHuggingFace(): Promise<Record<string, Uint8Array>> {
    return this.#exclusive('saving', async () => {
      const json = this.#tokenizer && !this.#tokenizer.disposed ? this.#tokenizer.save() : null;
      const inner = await this.#sync();
      return guard('could not save the model as a Hugging Face directory', () => inner.exportHuggingFace(json));
    });
  }

  /** Adds LoRA adapters: from now on only they train (no gradients or optimizer state for the frozen
   *  weights). The model starts as it was (B = 0); training data is set again by the next train(). */
  async addLora(options: LoraOptions): Promise<void> {
    const what = 'could not add LoRA adapters';
    const rank = options?.rank;
    if (!Number.isInteger(rank) || rank < 1) throw new PlaygroundError(`${what}: rank must be a whole number of at least 1`);
    const targets = [...new Set<LoraTarget>(options.targets ?? ['c_attn'])].sort((a, b) => LORA_ORDER.indexOf(a) - LORA_ORDER.indexOf(b));
    const lora = { r: rank, alpha: options.alpha ?? 2 * rank, dropout: options.dropout ?? 0, targets };
    return this.#reshape('adding LoRA adapters', what, (inner) => inner.addLora(lora, options.seed ?? 1));
  }

  /** Merges the adapters into the weights (W += alpha / r B A): a plain model again, every weight trainable. */
  mergeLora(): Promise<void> {
    return this.#reshape('merging LoRA adapters', 'could not merge the LoRA adapters', (inner) => inner.mergeLora());
  }

  /** Attaches a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) to this model. */
  async loadAdapter(files: ModelFiles): Promise<void> {
    const what = 'could not load the adapter';
    const bytes = await fileBytes(files, what);
    return this.#reshape('loading an adapter', what, (inner) => inner.importAdapter(bytes));
  }

  /** The LoRA adapters alone in PEFT's format (file name -> bytes) that `PeftModel.from_pretrained` loads. */
  saveAdapter(): Promise<Record<string, Uint8Array>> {
    return this.#exclusive('saving', async () => {
      const inner = await this.#sync();
      return guard('could not save the adapter', () => inner.exportAdapter());
    });
  }

  /** Changes the model's config (adapters added or merged) on the CPU copy, and rebuilds the GPU copy from it. */
  #reshape(doing: string, what: string, change: (inner: CoreModel) => void): Promise<void> {
    return this.#exclusive(doing, async () => {
      const inner = await this.#sync();
      guard(what, () => change(inner));
      this.#hasData = false;
      const gpu = this.#gpu;
      if (gpu) {
        const device = gpu.device;
        gpu.model.free();
        this.#gpu = null;
        try {
          this.#gpu = openGpuSide(device, inner.configJson(), 1, inner.params(), what);
        } catch (error) {
          // openGpuSide freed the device: the model goes on on the CPU, where the change was made.
          this.#backend = 'cpu';
          this.#backendReason = `the GPU copy could not take the new config (${messageOf(error)})`;
        }
      }
    });
  }

  /** The model as safetensors bytes, with its tokenizer inside (loadModel() reads both back). */
  save(): Promise<Uint8Array> {
    return this.#exclusive('saving', async () => {
      const json = this.#tokenizer && !this.#tokenizer.disposed ? this.#tokenizer.save() : null;
      const inner = await this.#sync();
      return guard('could not save the model', () => inner.saveSafetensors(json));
    });
  }

  /** Frees the model (and the tokenizer it loaded from a file). A running train() stops at its next step. */
  dispose(): void {
    if (this.#inner === null) return;
    if (this.#busy) {
      // A running call finds the model gone at its next step and frees it when it ends.
      this.#pendingFree = this.#inner;
      this.#control.resume();
    } else {
      this.#inner.free();
      this.#inner = null;
      this.#freeGpu();
    }
    this.#inner = null;
    if (this.#ownsTokenizer) this.#tokenizer?.dispose();
    this.#tokenizer = null;
    track('model', -1);
  }
}

/** A new model with random weights (see Model.create); with `config.objective: 'seq2seq'` and a `task`, an
 *  encoder-decoder (see Seq2SeqModel.create). */
export function createModel(options: CreateSeq2SeqOptions): Promise<Seq2SeqModel>;
export function createModel(options?: CreateModelOptions): Promise<Model>;
export function createModel(options?: CreateModelOptions | CreateSeq2SeqOptions): Promise<Model | Seq2SeqModel> {
  if (options?.config?.objective === 'seq2seq') return Seq2SeqModel.create(options as CreateSeq2SeqOptions);
  return Model.create(options as CreateModelOptions);
}

/** A model from safetensors bytes (see Model.load). */
export function loadModel(bytes: ArrayBuffer | ArrayBufferView, options?: LoadModelOptions): Promise<Model> {
  return Model.load(bytes, options);
}

