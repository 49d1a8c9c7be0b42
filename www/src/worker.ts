// The worker that runs the core, through the npm package's public API (js/src): the page is a client of the
// package like any other app. Everything slow happens here, never on the page's thread; the page reaches it
// through client.ts with the messages of protocol.ts.
import {
  CoreCrashedError,
  corpora,
  DeviceLostError,
  generateCorpus,
  gpuInfo,
  gpuSelfTest,
  init,
  loadModel,
  createModel,
  Model,
  displayText,
  memoryReport,
  modelSize,
  simulatePanic,
  Tokenizer,
  version,
  type TrainOptions,
} from '../../js/src/index';
import { fillMaskView } from './fill-mask-view';
import { finetuneHandlers } from './finetune-worker';
import { seq2seqHandlers } from './seq2seq-worker';
import type {
  Backend,
  BpeProgressView,
  CoreApi,
  GenerateDone,
  GenerateProgress,
  GenerateSettings,
  KernelCheck,
  LoraMemory,
  MergeView,
  ModelInfo,
  Request,
  Response,
  Tokenized,
  TokenizerOptions,
  TokenizerStats,
  TokenizerSummary,
  TrainProgress,
  TrainRequest,
  TrainSummary,
} from './protocol';
import { SNAPSHOT_EVERY, VAL_FRACTION } from './protocol';
import type { AttentionStep } from './attention-math';
import { labHandlers } from './lab-worker';

const ready = init();

async function matmulCheck(backend: Backend): Promise<KernelCheck> {
  const t = await gpuSelfTest({ backend });
  if (backend === 'webgpu' && t.backend !== 'webgpu') throw new Error(`WebGPU is not available: ${t.reason}`);
  return { ...t, inp: [...t.inp], weight: [...t.weight], bias: [...t.bias], out: [...t.out], reference: [...t.reference] };
}

// ---- Tokenizer: one current tokenizer, kept here; the page sees ids and strings.

let tokenizer: Tokenizer | null = null;

function setTokenizer(next: Tokenizer): void {
  // The model keeps a reference to the tokenizer it was made with; it is only freed when nothing uses it.
  if (tokenizer && tokenizer !== model?.tokenizer) tokenizer.dispose();
  tokenizer = next;
}

function needTokenizer(what = 'a tokenizer (train one in the Tokenizer panel first)'): Tokenizer {
  if (!tokenizer) throw new Error(`there is no tokenizer yet: ${what}`);
  return tokenizer;
}

function tokenizerStats(text: string): TokenizerStats {
  const s = needTokenizer().stats(text);
  return { vocab_size: s.vocabSize, characters: s.characters, bytes: s.bytes, tokens: s.tokens, tokens_per_char: s.tokensPerChar, bytes_per_token: s.bytesPerToken };
}

function summary(text: string, millis: number): TokenizerSummary {
  const current = needTokenizer();
  const training = current.training;
  const view = training ? (({ mergeCounts: _counts, ...rest }) => rest)(training) : undefined;
  return { kind: current.kind, vocabSize: current.vocabSize, stats: tokenizerStats(text), millis, pattern: current.pattern, training: view };
}

/** The last `limit` merges, newest first, as the page lists them (counts from training, when known). */
function tokenizerMerges(limit: number): MergeView[] {
  const current = needTokenizer();
  const merges = current.merges(limit).reverse();
  const counts = current.training?.mergeCounts;
  const strings = current.tokenStrings(merges.flatMap((m) => [m.left, m.right, m.token]));
  return merges.map((m, i) => ({ rank: m.rank + 1, left: strings[3 * i]!, right: strings[3 * i + 1]!, token: m.token, text: strings[3 * i + 2]!, count: counts?.[m.rank] }));
}

/** How often each id occurs in `text` (index = token id). */
function tokenCounts(text: string): number[] {
  const current = needTokenizer();
  const counts = new Array<number>(current.vocabSize).fill(0);
  for (const id of current.encode(text)) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}

const PROGRESS_INTERVAL_MS = 40;

async function trainTokenizer(text: string, options: TokenizerOptions, progress: (value: unknown) => void): Promise<TokenizerSummary> {
  if (text.length === 0) throw new Error('the corpus is empty: choose a built-in corpus or add text in the Data panel first');
  const start = performance.now();
  if (options.kind === 'char') {
    setTokenizer(await Tokenizer.train(text, { kind: 'char' }));
    return summary(text, performance.now() - start);
  }
  let batch: MergeView[] = [];
  let latest = { done: 0, total: 0 };
  let last = performance.now();
  const trained = await Tokenizer.train(text, {
    kind: 'bpe',
    vocabSize: options.vocabSize,
    pattern: options.pattern,
    onProgress: (step) => {
      latest = { done: step.done, total: step.total };
      batch.push({ rank: step.done, left: step.parts[0], right: step.parts[1], token: step.token, text: step.text, count: step.count });
      const now = performance.now();
      if (now - last >= PROGRESS_INTERVAL_MS || step.done === step.total) {
        const view: BpeProgressView = { done: step.done, total: step.total, merges: batch };
        progress(view);
        batch = [];
        last = now;
      }
    },
  });
  // The last merges, also when training stopped before `done` reached `total`.
  if (batch.length > 0) progress({ ...latest, merges: batch } satisfies BpeProgressView);
  setTokenizer(trained);
  return summary(text, performance.now() - start);
}

async function tokenize(text: string, maxChars: number): Promise<Tokenized> {
  const current = needTokenizer();
  const truncated = text.length > maxChars;
  const tokens = current.tokenize(truncated ? text.slice(0, maxChars) : text);
  const bytes = tokens.map(({ id }) => {
    const known = current.tokenBytes(id);
    return known ? Array.from(known, (b) => b.toString(16).padStart(2, '0')).join(' ') : '(the unknown token)';
  });
  return { ids: tokens.map((t) => t.id), strings: tokens.map((t) => t.text), bytes, truncated };
}

async function loadTokenizer(json: string, text: string): Promise<TokenizerSummary> {
  const start = performance.now();
  setTokenizer(await Tokenizer.load(json)); // throws with the core's message; the current tokenizer stays
  return summary(text, performance.now() - start);
}

// ---- Training: the package's Model.train, stopped by an AbortSignal for pause and reset.

let model: Model | null = null;
/** The run in progress: aborting it pauses (the model keeps its data and optimiser) or, with `reset`, ends it. */
type Run = { controller: AbortController; reset: boolean };
let run = null as Run | null;
/** Whether the current model has training data, so a paused run can continue. */
let configured = false;

function needModel(): Model {
  if (!model) throw new Error('there is no model yet: train one in the Training panel (or load one in Save & load)');
  return model;
}

function info(current: Model): ModelInfo {
  return { backend: current.backend, inspectable: true, paramCount: current.paramCount, config: current.config, trainable: current.trainableCount };
}

/** The model a run trains: fresh weights, or (fine-tuning) the current weights moved to the run's backend. */
async function modelForRun(request: TrainRequest): Promise<Model> {
  const current = needTokenizer('train one in the Tokenizer panel first');
  const previous = request.keepWeights ? model : null;
  // Adapters of an earlier LoRA run are merged in first: the weights below are then a plain model's.
  if (previous && previous.trainableCount < previous.paramCount) await previous.mergeLora();
  const weights = previous ? await previous.weights() : null;
  const next = await createModel({
    // A masked-language model has one id more than its tokenizer: [MASK].
    config: previous ? previous.config : { ...request.config, vocabSize: current.vocabSize + (request.config.objective === 'mlm' ? 1 : 0) },
    backend: request.backend,
    tokenizer: current,
    seed: request.options.seed,
  });
  try {
    if (weights) await next.setWeights(weights);
    if (request.lora && weights) await next.addLora(request.lora);
  } catch (error) {
    next.dispose();
    throw error;
  }
  return next;
}

function replaceModel(next: Model | null): void {
  const old = model;
  const oldTokenizer = old?.tokenizer;
  model = next;
  configured = false;
  old?.dispose();
  // A tokenizer replaced while the old model still used it is freed with that model.
  if (oldTokenizer && oldTokenizer !== tokenizer && oldTokenizer !== next?.tokenizer && !oldTokenizer.disposed) oldTokenizer.dispose();
}

async function train(request: TrainRequest, progress: (value: unknown) => void): Promise<TrainSummary> {
  await ready;
  if (run) throw new Error('training is already running: pause it first');
  const { options } = request;
  const resume = request.resume && model !== null && configured;
  if (!resume) replaceModel(await modelForRun(request));
  const active = model!;
  if (!resume && request.lora) progress({ kind: 'lora', memory: loraMemory(active, options.batchSize, options.seqLen) } satisfies TrainProgress);
  const controller = new AbortController();
  const current: Run = { controller, reset: false };
  run = current;
  const snapshotEvery = request.snapshotEvery ?? SNAPSHOT_EVERY;
  const onSnapshot = (snapshot: { step: number; bytes: Uint8Array }) => {
    const message: TrainProgress = { kind: 'snapshot', ...snapshot };
    progress(message);
  };
  const settings: TrainOptions = {
    steps: options.steps - active.stepCount,
    snapshotEvery,
    onSnapshot: snapshotEvery > 0 ? onSnapshot : undefined,
    signal: controller.signal,
    onProgress: (p) =>
      progress({
        kind: 'step',
        step: p.step,
        loss: p.loss,
        lr: p.lr,
        gradNorm: p.gradNorm,
        tokens: p.tokens,
        tokensPerSec: p.tokensPerSecond,
        elapsedMs: p.elapsedMs,
        lossScale: p.lossScale,
        skippedSteps: p.skippedSteps,
      } satisfies TrainProgress),
    onEval: (e) => progress({ kind: 'eval', step: e.step, valLoss: e.valLoss, valPpl: e.valPerplexity, valAccuracy: e.valAccuracy } satisfies TrainProgress),
  };
  let last = active.stepCount;
  try {
    if (!resume) {
      // A fine-tuning run starts from weights worth keeping: they are its first snapshot.
      if (request.keepWeights && snapshotEvery > 0) onSnapshot({ step: 0, bytes: await active.save() });
      configured = true;
      await active.train({ ...settings, ...options, scheduleSteps: options.steps, text: request.text, valFraction: VAL_FRACTION });
    } else {
      await active.train(settings);
    }
    return { steps: active.stepCount };
  } catch (error) {
    last = active.disposed ? last : active.stepCount;
    if (current.reset || model !== active) return { steps: last, stopped: 'reset' };
    if (error instanceof Error && error.name === 'AbortError') {
      const paused: TrainProgress = { kind: 'paused', step: last };
      progress(paused);
      return { steps: last, stopped: 'paused' };
    }
    if (error instanceof DeviceLostError) {
      configured = false;
      const reason = active.backendReason.replace(/^the WebGPU device was lost \((.*)\)$/, '$1');
      if (error.restoredStep === 0) {
        replaceModel(null);
        return { steps: error.lostAtStep, stopped: 'device-lost', reason };
      }
      return { steps: error.lostAtStep, stopped: 'device-lost', reason, restoredStep: error.restoredStep };
    }
    // Diverged or failed: the weights of the last good step stay, but this run cannot be resumed.
    configured = false;
    throw error;
  } finally {
    if (run === current) run = null;
  }
}

async function resetModel(): Promise<void> {
  if (run) {
    run.reset = true;
    run.controller.abort();
  }
  replaceModel(null);
}

/** The fault drills (see CoreApi.simulateFault). */
async function simulateFault(kind: 'device' | 'panic' | 'crash'): Promise<void> {
  await ready;
  if (kind === 'device') {
    if (model?.backend !== 'webgpu') throw new Error('there is no WebGPU device to lose: train on WebGPU first');
    model.simulateDeviceLoss();
  } else if (kind === 'panic') {
    await simulatePanic();
  } else {
    setTimeout(() => {
      throw new Error('a drill: the worker crashed on purpose');
    }, 0);
  }
}

// ---- Generation, inspection, weights.

/** The ids of `text`, cut to the last `limit` tokens (the model's context). */
function encodeFor(text: string, limit: number): Uint32Array {
  const ids = needTokenizer().encode(text);
  if (ids.length === 0) throw new Error('the text is empty: type something first');
  return ids.slice(Math.max(0, ids.length - limit));
}

let stopRequested = false;

/** About how many milliseconds of tokens each batch after the first holds: the page draws at most every 100 ms
 *  (panels/generate.ts), so batches of half that show the same stream with a third of the messages and event-loop
 *  turns of a frame-sized batch (each costs the worker a message, a structured clone and a wake-up). */
const GENERATE_BATCH_MS = 50;

async function generate(
  prompt: string,
  settings: GenerateSettings,
  progress: (value: unknown, transfer?: Transferable[]) => void,
): Promise<GenerateDone> {
  const current = needModel();
  const tokens = needTokenizer();
  const promptIds = tokens.encode(prompt || '\n');
  stopRequested = false;
  const generated: number[] = [];
  const sent = new Set<number>();
  let [modelMs, backend] = [0, current.backend as Backend];
  const batches = current.generateBatches(promptIds, {
    maxTokens: settings.maxTokens,
    temperature: settings.temperature,
    topK: settings.topK,
    topP: settings.topP,
    seed: settings.seed,
    batchMs: GENERATE_BATCH_MS,
  });
  // Batches go to the page as they come (the first token alone, then about every GENERATE_BATCH_MS): typed arrays,
  // moved rather than copied, plus the texts of the ids the page has not seen in this run.
  for await (const batch of batches) {
    const fresh: number[] = [];
    for (const list of [batch.ids, batch.alternativeIds]) {
      for (const id of list) {
        if (sent.has(id)) continue;
        sent.add(id);
        fresh.push(id);
      }
    }
    const texts = fresh.length > 0 ? tokens.tokenStrings(fresh) : [];
    for (let i = 0; i < batch.ids.length; i++) {
      generated.push(batch.ids[i]!);
      modelMs += batch.ms[i]!;
    }
    backend = batch.backend;
    const { ids, ms, probs, k, alternativeIds, alternativeProbs } = batch;
    progress({ ids, ms, probs, k, alternativeIds, alternativeProbs, labels: fresh.map((id, i) => [id, texts[i] ?? String(id)]) } satisfies GenerateProgress, [
      ids.buffer,
      ms.buffer,
      probs.buffer,
      alternativeIds.buffer,
      alternativeProbs.buffer,
    ]);
    // Leaving at max tokens ends the stream here, without another turn of the event loop for the empty batch.
    if (stopRequested || generated.length >= settings.maxTokens) break;
  }
  const stopped = stopRequested && generated.length < settings.maxTokens;
  return { promptTokens: promptIds.length, count: generated.length, text: tokens.decode(generated), backend, stopped, modelMs };
}

async function attention(text: string) {
  const current = needModel();
  const maps = await current.attention(encodeFor(text, current.config.blockSize));
  return { tokens: maps.tokens.map((t) => t.text), ids: maps.tokens.map((t) => t.id), nLayer: maps.nLayer, nHead: maps.nHead, t: maps.t, att: [...maps.att] };
}

async function attentionDetail(text: string, layer: number, head: number, query: number): Promise<AttentionStep> {
  const current = needModel();
  const d = await current.attentionStep(encodeFor(text, current.config.blockSize), layer, head, query);
  return {
    source: `layer ${layer}, head ${head} of your model`,
    tokens: d.tokens.map((t) => t.text).slice(0, d.keys.length),
    query,
    dk: d.headSize,
    q: [...d.q],
    k: d.keys.map((row) => [...row]),
    v: d.values.map((row) => [...row]),
    scores: [...d.rawScores],
    scaled: [...d.scaledScores],
    masked: Array.from(d.scaledScores, (s, j) => (d.visible[j] ? s : -Infinity)),
    weights: [...d.weights],
    out: [...d.output],
  };
}

async function embeddings() {
  const e = await needModel().embeddings();
  return { vocab: e.vocabSize, nEmbd: e.nEmbd, wte: [...e.wte], labels: e.tokens.map((t) => t.text), positions: [...e.positions] };
}

async function loadModelBytes(bytes: Uint8Array): Promise<ModelInfo> {
  if (run) throw new Error('training is running: pause it before loading a model');
  // With no tokenizer in the file, the current one must fit the model; loadModel checks the vocabulary.
  const loaded = await loadModel(bytes, { backend: 'cpu' });
  const own = loaded.tokenizer;
  const vocab = loaded.config.vocabSize - (loaded.config.objective === 'mlm' ? 1 : 0);
  if (!own && tokenizer && tokenizer.vocabSize !== vocab) {
    loaded.dispose();
    throw new Error(`the model has a vocabulary of ${vocab} tokens but the current tokenizer has ${tokenizer.vocabSize}: load the tokenizer it was trained with first`);
  }
  replaceModel(loaded);
  // The file's tokenizer belongs to the loaded model; the worker's current tokenizer is a copy of it.
  const stored = own?.save();
  if (stored) setTokenizer(await Tokenizer.load(stored));
  return { ...info(loaded), tokenizerJson: stored };
}

// ---- Hugging Face directories and LoRA adapters (the Save & load panel's hf-files.ts, Training's lora.ts).

async function importHuggingFace(files: Record<string, Uint8Array>): Promise<ModelInfo> {
  if (run) throw new Error('training is running: pause it before loading a model');
  const loaded = await Model.loadHuggingFace(files, { backend: 'cpu' });
  replaceModel(loaded);
  const stored = loaded.tokenizer?.save();
  if (stored) setTokenizer(await Tokenizer.load(stored));
  return { ...info(loaded), tokenizerJson: stored };
}

/** The package's counts: this model's training memory (adapters: frozen weights without gradients or moments)
 *  against full fine-tuning of its base (modelSize of the config, which has no adapters). */
function loraMemory(current: Model, batchSize: number, seqLen: number): LoraMemory {
  const bytes = current.trainingBytes({ batchSize, seqLen });
  const fullBytes = modelSize(current.config, { batchSize, seqLen }).trainingBytes;
  return { params: current.paramCount, trainable: current.trainableCount, batchSize, seqLen, bytes, fullBytes };
}

type Handlers = { [K in keyof CoreApi]: (...args: [...Parameters<CoreApi[K]>, (value: unknown) => void]) => Promise<ReturnType<CoreApi[K]>> };

const api: Handlers = {
  version,
  adapter: gpuInfo,
  matmulCheck,
  corpora,
  generateCorpus: (name, seed, approxBytes) => generateCorpus(name, { seed, bytes: approxBytes }),
  modelSize: async (config, batchSize) => modelSize(config, { batchSize }),
  memoryReport: async (config, options) => memoryReport(config, options),
  displayTexts: async (texts) => texts.map(displayText),
  trainTokenizer,
  tokenize,
  tokenizerJson: async () => needTokenizer().save(),
  loadTokenizer,
  tokenizerStats: async (text) => tokenizerStats(text),
  tokenizerMerges: async (limit) => tokenizerMerges(limit),
  tokenCounts: async (text) => tokenCounts(text),
  train,
  pauseTraining: async () => run?.controller.abort(),
  resetModel,
  simulateFault,
  modelInfo: async () => (model ? info(model) : null),
  generate,
  stopGeneration: async () => {
    stopRequested = true;
  },
  attention,
  attentionDetail,
  embeddings,
  saveModel: async () => needModel().save(),
  loadModel: loadModelBytes,
  importHuggingFace,
  exportHuggingFace: async () => needModel().saveHuggingFace(),
  exportAdapter: async () => needModel().saveAdapter(),
  loraMemory: async (batchSize, seqLen) => (model ? loraMemory(model, batchSize, seqLen) : null),
  fillMask: async (text, topK) => fillMaskView(needModel(), text, topK),
  ...labHandlers({ model: () => model, tokenizer: () => tokenizer, training: () => run !== null }),
  ...finetuneHandlers({ model: () => model, training: () => run !== null }),
  ...seq2seqHandlers,
};

const post = (message: Response, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, method, args } = event.data;
  let response: Response;
  try {
    await ready;
    const handler = api[method] as (...a: unknown[]) => Promise<unknown>;
    if (!handler) throw new Error(`the worker has no method ${String(method)}`);
    response = { id, ok: true, value: await handler(...args, (progress: unknown, transfer?: Transferable[]) => post({ id, progress }, transfer)) };
  } catch (error) {
    response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
    if (error instanceof CoreCrashedError) {
      // A trap: a panic in the core (a bug) or an out-of-memory. The module's state cannot be trusted any more,
      // so the page must start a fresh worker; say what the core reported.
      const report = (error.panic ?? error.message).replace(/\s*\n\s*/g, ' ');
      response = { id, ok: false, fatal: true, error: `the core stopped on an internal error (${report}); this is a bug` };
    }
  }
  post(response);
};
