// The worker that owns the wasm core and the GPU device. Everything slow happens here, never on the page's thread.
//
// The core's areas (corpora, tokenizer, models) land in the wasm module at different times, so the worker looks
// them up at run time and reports which exist (`capabilities`); the page shows "coming soon" for the rest.
import init, * as wasm from '../../pkg/transformer_playground.js';
import type {
  AdapterReport,
  Backend,
  BpeProgressView,
  Capabilities,
  CoreApi,
  CorpusInfo,
  KernelCheck,
  MergeView,
  Request,
  Response,
  Tokenized,
  TokenizerOptions,
  AttentionMaps,
  EmbeddingsView,
  GeneratedToken,
  GenerateProgress,
  GenerateResult,
  GenerateSettings,
  ModelInfo,
  TrainProgress,
  TrainRequest,
  TrainSummary,
  TokenizerStats,
  TokenizerSummary,
} from './protocol';
import { displayBytes, displayText, hexBytes } from './tokens';
import { loadModel, openGpuModel, openModel, type ModelHandle } from './model-adapter';
import { TRAIN_FRACTION } from './split';
import { SNAPSHOT_EVERY } from './protocol';
import type { AttentionStep } from './attention-math';

const { Gpu, matmulForwardCpu, version } = wasm;
type GpuDevice = wasm.Gpu;

// ---- The parts of the core's wasm API that may not be in this build yet (see pkg/*.d.ts for the real ones).

interface WasmTokenizer {
  encode(text: string): Uint32Array | number[];
  decode(ids: Uint32Array | number[]): string;
  tokenStrings?(ids: Uint32Array | number[]): string[];
  toJson(): string;
  stats(text: string): TokenizerStats;
  free?(): void;
  readonly vocabSize?: number;
  readonly kind?: string;
}
interface WasmTokenizerClass {
  trainChar(text: string): WasmTokenizer;
  trainBpe(
    text: string,
    vocabSize: number,
    pattern: string,
    specialTokens: string[],
    onProgress: (progress: { done: number; total: number; merge: [number, number]; token: number; count: number }) => boolean,
  ): WasmTokenizer;
  fromJson(json: string): WasmTokenizer;
}
interface OptionalCore {
  corpora?: () => CorpusInfo[];
  generateCorpus?: (name: string, seed: number, approxBytes: number) => string;
  Tokenizer?: WasmTokenizerClass;
  CpuModel?: unknown;
  GpuModel?: unknown;
}
const optional = wasm as unknown as OptionalCore;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not in this build of the core yet`);
  return value;
}

const ready = init();
let gpu: Promise<GpuDevice> | null = null;

/** The wgpu device, opened once on first use and kept (its pipelines are cached on it). */
function openGpu(): Promise<GpuDevice> {
  gpu ??= Gpu.open().catch((error: unknown) => {
    gpu = null;
    throw error;
  });
  return gpu;
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

async function adapter(): Promise<AdapterReport> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  }
  const found = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!found) return { available: false, reason: 'the browser offers WebGPU but found no adapter' };
  const info = found.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = Number(found.limits[name]);
  return {
    available: true,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallback: Boolean(info.isFallbackAdapter ?? (found as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    limits,
    features: [...found.features].sort(),
  };
}

/** Deterministic values in [-1, 1) so a test can recompute the reference from what the page shows. */
function testValues(count: number, seed: number): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return values;
}

async function matmulCheck(backend: Backend): Promise<KernelCheck> {
  await ready;
  // B=2, T=7 -> N=14 rows, C=12 inputs, OC=37 outputs (a vocabulary-sized projection): no tile divides these.
  const [n, c, oc] = [14, 12, 37];
  const inp = testValues(n * c, 1);
  const weight = testValues(oc * c, 2);
  const bias = testValues(oc, 3);
  const reference = matmulForwardCpu(inp, weight, bias, n, c, oc);
  const start = performance.now();
  const out = backend === 'webgpu' ? await (await openGpu()).matmul_forward(inp, weight, bias, n, c, oc) : reference;
  const millis = performance.now() - start;
  let maxAbsDiff = 0;
  for (let i = 0; i < out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - reference[i]));
  return {
    backend,
    n,
    c,
    oc,
    inp: [...inp],
    weight: [...weight],
    bias: [...bias],
    out: [...out],
    reference: [...reference],
    maxAbsDiff,
    pass: maxAbsDiff <= 1e-4,
    millis,
  };
}

async function capabilities(): Promise<Capabilities> {
  await ready;
  return {
    version: version(),
    corpus: typeof optional.corpora === 'function' && typeof optional.generateCorpus === 'function',
    tokenizer: typeof optional.Tokenizer === 'function',
    cpuModel: typeof optional.CpuModel === 'function',
    gpuModel: typeof optional.GpuModel === 'function',
  };
}

// ---- Tokenizer: one current tokenizer, kept here; the page sees ids and strings.

let tokenizer: WasmTokenizer | null = null;
let tokenizerKind: 'char' | 'bpe' = 'char';
/** The bytes of every BPE token, known when the tokenizer was trained here (from the merges). */
let tokenBytes: Uint8Array[] | null = null;

function setTokenizer(next: WasmTokenizer, kind: 'char' | 'bpe', bytes: Uint8Array[] | null): void {
  tokenizer?.free?.();
  tokenizer = next;
  tokenizerKind = kind;
  tokenBytes = bytes;
}

function summary(text: string, millis: number): TokenizerSummary {
  const current = need(tokenizer ?? undefined, 'a tokenizer (train or load one first)');
  const stats = current.stats(text);
  return { kind: tokenizerKind, vocabSize: stats.vocab_size, stats, millis };
}

const PROGRESS_INTERVAL_MS = 40;

async function trainTokenizer(
  text: string,
  options: TokenizerOptions,
  progress: (value: unknown) => void,
): Promise<TokenizerSummary> {
  await ready;
  const Tokenizer = need(optional.Tokenizer, 'the tokenizer');
  if (text.length === 0) throw new Error('the corpus is empty: choose a built-in corpus or add text in the Data panel first');
  const start = performance.now();
  if (options.kind === 'char') {
    const trained = Tokenizer.trainChar(text);
    setTokenizer(trained, 'char', null);
    return summary(text, performance.now() - start);
  }
  const bytes: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) bytes.push(Uint8Array.of(b));
  let batch: MergeView[] = [];
  let last = performance.now();
  const trained = Tokenizer.trainBpe(text, options.vocabSize, options.pattern, [], (step) => {
    const [left, right] = step.merge;
    const joined = new Uint8Array((bytes[left]?.length ?? 0) + (bytes[right]?.length ?? 0));
    joined.set(bytes[left] ?? [], 0);
    joined.set(bytes[right] ?? [], bytes[left]?.length ?? 0);
    bytes[step.token] = joined;
    batch.push({
      rank: step.done,
      left: displayBytes(bytes[left] ?? []),
      right: displayBytes(bytes[right] ?? []),
      token: step.token,
      text: displayBytes(joined),
      count: Number(step.count),
    });
    const now = performance.now();
    if (now - last >= PROGRESS_INTERVAL_MS || step.done === step.total) {
      const view: BpeProgressView = { done: step.done, total: step.total, merges: batch };
      progress(view);
      batch = [];
      last = now;
    }
    return true;
  });
  setTokenizer(trained, 'bpe', bytes);
  return summary(text, performance.now() - start);
}

const utf8 = new TextEncoder();

async function tokenize(text: string, maxChars: number): Promise<Tokenized> {
  await ready;
  const current = need(tokenizer ?? undefined, 'a tokenizer (train or load one first)');
  const truncated = text.length > maxChars;
  const part = truncated ? text.slice(0, maxChars) : text;
  const ids = Array.from(current.encode(part), Number);
  const strings: string[] = [];
  const bytes: string[] = [];
  const fromCore = current.tokenStrings ? current.tokenStrings(ids) : null;
  ids.forEach((id, i) => {
    const known = tokenBytes?.[id];
    if (known) {
      strings.push(fromCore?.[i] ?? displayBytes(known));
      bytes.push(hexBytes(known));
    } else {
      const decoded = current.decode([id]);
      strings.push(fromCore?.[i] ?? displayText(decoded));
      bytes.push(decoded.includes('\uFFFD') ? '(part of a character)' : hexBytes(utf8.encode(decoded)));
    }
  });
  return { ids, strings, bytes, truncated };
}

async function tokenizerJson(): Promise<string> {
  return need(tokenizer ?? undefined, 'a tokenizer (train or load one first)').toJson();
}

async function loadTokenizer(json: string, text: string): Promise<TokenizerSummary> {
  await ready;
  const Tokenizer = need(optional.Tokenizer, 'the tokenizer');
  const start = performance.now();
  const loaded = Tokenizer.fromJson(json); // throws with the core's message; the current tokenizer stays
  let kind: 'char' | 'bpe' = 'bpe';
  try {
    const parsed = JSON.parse(json) as { model?: { type?: string } };
    if (String(parsed.model?.type ?? '').toLowerCase().includes('char')) kind = 'char';
  } catch {
    // fromJson accepted it, so it is JSON; keep the default
  }
  if (typeof loaded.kind === 'string') kind = loaded.kind === 'char' ? 'char' : 'bpe';
  setTokenizer(loaded, kind, null);
  return summary(text, performance.now() - start);
}

// ---- Training: a loop of step() calls that yields to messages between steps, so pause and reset get through.

let model: ModelHandle | null = null;
/** Whether the model's weights can be read on the CPU (always for the CPU model; after a sync for WebGPU). */
let inspectable = true;
let configured = false;
let running = false;
let pauseRequested = false;
/** The latest snapshot of the current model's weights (safetensors), kept off the GPU: what a lost device
 *  falls back to. */
let snapshot: { step: number; bytes: Uint8Array } | null = null;

const yieldToMessages = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The model a run trains: fresh weights, or (fine-tuning) the current weights moved to the run's backend. */
async function modelForRun(request: TrainRequest): Promise<ModelHandle> {
  const seed = request.options.seed;
  if (!request.keepWeights || !model) {
    model?.free();
    model = null;
    return request.backend === 'webgpu'
      ? openGpuModel(optional.GpuModel, optional.CpuModel, await openGpu(), request.config, seed, request.paramCount)
      : openModel(optional.CpuModel, request.config, seed);
  }
  const current = model;
  const config = modelConfig(current);
  const weights = await current.params();
  const next =
    request.backend === 'webgpu'
      ? openGpuModel(optional.GpuModel, optional.CpuModel, await openGpu(), config, seed, current.paramCount)
      : openModel(optional.CpuModel, config, seed);
  try {
    next.setParams(weights);
  } catch (error) {
    next.free();
    throw error;
  }
  current.free();
  model = null;
  return next;
}

/** Why the WebGPU device under `handle` is gone, or null when `error` is something else. */
async function deviceLoss(handle: ModelHandle, error: unknown): Promise<string | null> {
  if (handle.backend !== 'webgpu') return null;
  const message = error instanceof Error ? error.message : String(error);
  // Only a failure of the GPU itself can be a loss: a diverged run or bad data is answered at once.
  if (!GPU_FAILURE.test(message)) return null;
  const device = (gpu ? await gpu.catch(() => null) : null) as { lostReason?: string } | null;
  // The browser reports the loss (GPUDevice.lost) a moment after the failed call that revealed it.
  for (let waited = 0; device && waited <= DEVICE_LOST_GRACE_MS; waited += 50) {
    if (device.lostReason) return device.lostReason;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return /device (was |is )?lost/i.test(message) ? message : null;
}
/** The core's GPU errors (`Error::Gpu`: "GPU error: …") and the browser's own device messages. */
const GPU_FAILURE = /GPU error|device/i;
const DEVICE_LOST_GRACE_MS = 1000;

/** After a lost device: drop the model and the device (the next WebGPU run opens a new one) and bring the
 *  latest snapshot back as a CPU model, which can continue on the CPU or move to a new device. */
function recoverFromDeviceLoss(handle: ModelHandle, reason: string, steps: number): TrainSummary {
  try {
    handle.free();
  } catch {
    // a model on a lost device may refuse even this; it is dropped either way
  }
  gpu = null;
  model = null;
  configured = false;
  if (!snapshot) return { steps, stopped: 'device-lost', reason };
  model = loadModel(optional.CpuModel, snapshot.bytes);
  inspectable = true;
  return { steps, stopped: 'device-lost', reason, restoredStep: snapshot.step };
}

/** Copies the weights off the GPU (if they are there), keeps them as the latest snapshot and sends them to
 *  the page, which stores them in the browser (a reload brings them back). */
async function takeSnapshot(handle: ModelHandle, step: number, progress: (value: unknown) => void): Promise<void> {
  await syncToCpu(handle);
  if (!inspectable) return;
  const bytes = handle.saveSafetensors(tokenizer?.toJson());
  snapshot = { step, bytes };
  const message: TrainProgress = { kind: 'snapshot', step, bytes };
  progress(message);
}

async function train(request: TrainRequest, progress: (value: unknown) => void): Promise<TrainSummary> {
  await ready;
  if (running) throw new Error('training is already running: pause it first');
  const current = need(tokenizer ?? undefined, 'a tokenizer (train one in the Tokenizer panel first)');
  if (!(request.resume && model && configured)) {
    const cut = Math.floor(request.text.length * TRAIN_FRACTION);
    const trainIds = Uint32Array.from(current.encode(request.text.slice(0, cut)));
    const valIds = Uint32Array.from(current.encode(request.text.slice(cut)));
    if (trainIds.length <= request.options.seq_len) {
      throw new Error(`the training text has ${trainIds.length} tokens, fewer than the context (${request.options.seq_len}): use more text or a shorter context`);
    }
    const next = await modelForRun(request);
    model = next;
    inspectable = next.backend === 'cpu';
    configured = false;
    snapshot = null;
    next.configure(request.options, trainIds, valIds);
    configured = true;
    // A fine-tuning run starts from weights worth keeping: they are its first snapshot.
    if (request.keepWeights && (request.snapshotEvery ?? SNAPSHOT_EVERY) > 0) await takeSnapshot(next, 0, progress);
  }
  const active = model!;
  const snapshotEvery = request.snapshotEvery ?? SNAPSHOT_EVERY;
  running = true;
  pauseRequested = false;
  const start = performance.now();
  let tokens = 0;
  let last = 0;
  try {
    for (;;) {
      if (pauseRequested) {
        await syncToCpu(active);
        const paused: TrainProgress = { kind: 'paused', step: last };
        progress(paused);
        return { steps: last, stopped: 'paused' };
      }
      if (model !== active) return { steps: last, stopped: 'reset' };
      if (last >= request.options.steps) break;
      try {
        const stats = await active.step();
        last = stats.step;
        tokens += stats.tokens;
        const elapsedMs = performance.now() - start;
        const step: TrainProgress = {
          kind: 'step',
          step: stats.step,
          loss: stats.loss,
          lr: stats.lr,
          gradNorm: stats.grad_norm,
          tokens: stats.tokens,
          tokensPerSec: tokens / Math.max(1e-9, elapsedMs / 1000),
          elapsedMs,
        };
        progress(step);
        if (request.options.eval_interval > 0 && (stats.step % request.options.eval_interval === 0 || stats.step >= request.options.steps)) {
          const e = await active.evaluate();
          const evaluated: TrainProgress = { kind: 'eval', step: e.step, valLoss: e.val_loss, valPpl: e.val_ppl };
          progress(evaluated);
        }
        if (snapshotEvery > 0 && stats.step % snapshotEvery === 0 && stats.step < request.options.steps) {
          await takeSnapshot(active, stats.step, progress);
        }
      } catch (error) {
        const lost = await deviceLoss(active, error);
        if (lost) return recoverFromDeviceLoss(active, lost, last);
        throw error;
      }
      await yieldToMessages();
    }
    await syncToCpu(active);
    return { steps: last };
  } finally {
    running = false;
  }
}

/** After a WebGPU run, copy the weights to the CPU model that generates and shows the insides. */
async function syncToCpu(handle: ModelHandle): Promise<void> {
  const sync = (handle as ModelHandle & { sync?: () => Promise<void> }).sync;
  if (!sync) return;
  try {
    await sync();
    inspectable = true;
  } catch (error) {
    inspectable = false;
    console.warn(`the weights trained on WebGPU could not be copied to the CPU: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function pauseTraining(): Promise<void> {
  pauseRequested = true;
}

async function resetModel(): Promise<void> {
  model?.free();
  model = null;
  configured = false;
  snapshot = null;
  pauseRequested = true;
}

/** The fault drills (see CoreApi.simulateFault). */
async function simulateFault(kind: 'device' | 'panic' | 'crash'): Promise<void> {
  await ready;
  if (kind === 'device') {
    if (!gpu) throw new Error('there is no WebGPU device to lose: train on WebGPU first');
    (await gpu).destroy();
  } else if (kind === 'panic') {
    need((wasm as unknown as { debugPanic?: (message: string) => void }).debugPanic, 'the panic drill')('a drill: the core panicked on purpose');
  } else {
    setTimeout(() => {
      throw new Error('a drill: the worker crashed on purpose');
    }, 0);
  }
}

// ---- Generation, inspection, weights.

function needModel(): ModelHandle {
  if (!model) throw new Error('there is no model yet: train one in the Training panel (or load one in Save & load)');
  return model;
}

function modelConfig(handle: ModelHandle): ModelInfo['config'] {
  return JSON.parse(handle.configJson) as ModelInfo['config'];
}

function tokenText(id: number): string {
  const current = tokenizer;
  if (!current) return String(id);
  const known = tokenBytes?.[id];
  if (known) return displayBytes(known);
  return current.tokenStrings ? current.tokenStrings([id])[0] : displayText(current.decode([id]));
}

/** The ids of `text`, cut to the last `limit` tokens (the model's context). */
function encodeFor(text: string, limit: number): Uint32Array {
  const current = need(tokenizer ?? undefined, 'a tokenizer (train one in the Tokenizer panel first)');
  const ids = Array.from(current.encode(text), Number);
  if (ids.length === 0) throw new Error('the text is empty: type something first');
  return Uint32Array.from(ids.slice(-limit));
}

let stopRequested = false;

async function generate(prompt: string, settings: GenerateSettings, progress: (value: unknown) => void): Promise<GenerateResult> {
  await ready;
  const handle = needModel();
  const current = need(tokenizer ?? undefined, 'a tokenizer (train one in the Tokenizer panel first)');
  const context = modelConfig(handle).block_size;
  const promptIds = Array.from(encodeFor(prompt || '\n', 1 << 30));
  const all = [...promptIds];
  const tokens: GeneratedToken[] = [];
  stopRequested = false;
  for (let i = 0; i < settings.maxTokens && !stopRequested; i++) {
    const t0 = performance.now();
    const window = Uint32Array.from(all.slice(-context));
    // One token per call, so tokens stream and the person can stop; the window is the last `context` tokens.
    const out = handle.generate(window, {
      max_tokens: 1,
      temperature: settings.temperature,
      top_k: settings.topK,
      top_p: settings.topP,
      seed: (settings.seed + i) >>> 0,
    });
    const ms = performance.now() - t0;
    if (out.length === 0) break; // the end token
    const id = Number(out[out.length - 1]);
    // The alternatives the model weighed for this token: the top 5 at the window's last position.
    const inspection = handle.inspect(window, 5);
    const top = inspection.top_k.find((t) => t.position === window.length - 1) ?? inspection.top_k[inspection.top_k.length - 1];
    const alternatives = top ? Array.from(top.tokens, (alt, j) => ({ text: tokenText(Number(alt)), prob: Number(top.probs[j]) })) : [];
    all.push(id);
    const text = tokenText(id);
    tokens.push({ id, text, ms, alternatives });
    const step: GenerateProgress = { kind: 'token', index: i, id, text, ms };
    progress(step);
    await yieldToMessages();
  }
  // The model's time per token (the inspection for the alternatives is not counted).
  const totalMs = tokens.reduce((sum, t) => sum + t.ms, 0);
  return { promptTokens: promptIds.length, tokens, text: current.decode(all.slice(promptIds.length)), totalMs };
}

async function attention(text: string): Promise<AttentionMaps> {
  await ready;
  const handle = needModel();
  const ids = encodeFor(text, modelConfig(handle).block_size);
  const capture = handle.attention(ids);
  return {
    tokens: Array.from(ids, (id) => tokenText(id)),
    ids: Array.from(ids),
    nLayer: capture.n_layer,
    nHead: capture.n_head,
    t: capture.t,
    att: Array.from(capture.att),
  };
}

async function attentionDetail(text: string, layer: number, head: number, query: number): Promise<AttentionStep> {
  await ready;
  const handle = needModel();
  const ids = encodeFor(text, modelConfig(handle).block_size);
  const d = handle.attentionDetail(ids, layer, head, query);
  const hs = d.head_size;
  const rows = (flat: number[]) => Array.from({ length: flat.length / hs }, (_, t) => Array.from(flat.slice(t * hs, (t + 1) * hs)));
  const k = rows(Array.from(d.keys));
  return {
    source: `layer ${layer}, head ${head} of your model`,
    tokens: Array.from(ids, (id) => tokenText(id)).slice(0, k.length),
    query,
    dk: hs,
    q: Array.from(d.q),
    k,
    v: rows(Array.from(d.values)),
    scores: Array.from(d.raw_scores),
    scaled: Array.from(d.scaled_scores),
    masked: Array.from(d.scaled_scores, (s, j) => (d.visible[j] ? s : -Infinity)),
    weights: Array.from(d.weights),
    out: Array.from(d.output),
  };
}

async function embeddings(): Promise<EmbeddingsView> {
  await ready;
  const capture = needModel().embeddings();
  return {
    vocab: capture.vocab_size,
    nEmbd: capture.n_embd,
    wte: Array.from(capture.wte),
    labels: Array.from({ length: capture.vocab_size }, (_, id) => tokenText(id)),
    positions: Array.from(capture.positions ?? []),
  };
}

async function saveModel(): Promise<Uint8Array> {
  await ready;
  return needModel().saveSafetensors(tokenizer?.toJson());
}

async function loadModelBytes(bytes: Uint8Array): Promise<ModelInfo> {
  await ready;
  if (running) throw new Error('training is running: pause it before loading a model');
  const loaded = loadModel(optional.CpuModel, bytes); // throws with the reason; the current model stays
  const storedTokenizer = loaded.tokenizerJson;
  if (storedTokenizer && optional.Tokenizer) {
    try {
      const next = optional.Tokenizer.fromJson(storedTokenizer);
      setTokenizer(next, next.kind === 'char' ? 'char' : 'bpe', null);
    } catch (error) {
      loaded.free();
      throw new Error(`the file's tokenizer did not load: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const vocab = modelConfig(loaded).vocab_size;
  if (!storedTokenizer && tokenizer && tokenizer.stats('').vocab_size !== vocab) {
    const have = tokenizer.stats('').vocab_size;
    loaded.free();
    throw new Error(`the model has a vocabulary of ${vocab} tokens but the current tokenizer has ${have}: load the tokenizer it was trained with first`);
  }
  model?.free();
  model = loaded;
  configured = false;
  inspectable = true;
  return { backend: 'cpu', inspectable: true, paramCount: loaded.paramCount, config: modelConfig(loaded), tokenizerJson: storedTokenizer };
}

type Handlers = { [K in keyof CoreApi]: (...args: [...Parameters<CoreApi[K]>, (value: unknown) => void]) => Promise<ReturnType<CoreApi[K]>> };

const api: Handlers = {
  version: async () => (await ready, version()),
  capabilities,
  adapter,
  matmulCheck,
  corpora: async () => (await ready, need(optional.corpora, 'the built-in corpora')()),
  generateCorpus: async (name, seed, approxBytes) => (await ready, need(optional.generateCorpus, 'the built-in corpora')(name, seed, approxBytes)),
  trainTokenizer,
  tokenize,
  tokenizerJson,
  loadTokenizer,
  train,
  pauseTraining,
  resetModel,
  simulateFault,
  modelInfo: async () => (model ? { backend: model.backend, inspectable, paramCount: model.paramCount, config: modelConfig(model) } : null),
  generate,
  stopGeneration: async () => {
    stopRequested = true;
  },
  attention,
  attentionDetail,
  embeddings,
  saveModel,
  loadModel: loadModelBytes,
};

const post = (message: Response) => (self as unknown as Worker).postMessage(message);

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, method, args } = event.data;
  let response: Response;
  try {
    const handler = api[method] as (...a: unknown[]) => Promise<unknown>;
    if (!handler) throw new Error(`the worker has no method ${String(method)}`);
    response = { id, ok: true, value: await handler(...args, (progress: unknown) => post({ id, progress })) };
  } catch (error) {
    response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
    if (error instanceof WebAssembly.RuntimeError) {
      // A trap: a panic in the core (a bug) or an out-of-memory. The module's state cannot be trusted any more,
      // so the page must start a fresh worker; say what the core reported.
      const panic = (wasm as unknown as { lastPanic?: () => string | undefined }).lastPanic?.();
      const report = (panic ?? error.message).replace(/\s*\n\s*/g, ' ');
      response = { id, ok: false, fatal: true, error: `the core stopped on an internal error (${report}); this is a bug` };
    }
  }
  post(response);
};
