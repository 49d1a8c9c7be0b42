// transformer-playground: a transformer you can train and take apart, in the browser (WebGPU or CPU) and Node.
//
//   import { trainTokenizer, generateCorpus } from 'transformer-playground';
//   const text = await generateCorpus('stories', { bytes: 20000 });
//   const tokenizer = await trainTokenizer(text, { kind: 'bpe', vocabSize: 512 });
//   tokenizer.decode(tokenizer.encode('Once upon a time')) === 'Once upon a time';
export { init, isReady } from './wasm.js';
export type { InitOptions, WasmSource } from './wasm.js';
export { CoreCrashedError, PlaygroundError } from './errors.js';
export { resourceCount } from './resources.js';
export type { ResourceKind } from './resources.js';
export { Tokenizer, trainTokenizer, createTokenizer, loadTokenizer } from './tokenizer.js';
export type {
  BpeStopReason,
  BpeTraining,
  Merge,
  SplitPattern,
  Token,
  TokenizerKind,
  TokenizerProgress,
  TokenizerStats,
  TrainTokenizerOptions,
} from './tokenizer.js';
export { corpora, generateCorpus } from './corpus.js';
export type { CorpusInfo, GenerateCorpusOptions } from './corpus.js';
export { createModel, DEFAULT_CONFIG, DeviceLostError, loadModel, MASK_TOKEN, Model } from './model.js';
export type {
  AttentionMaps,
  AttentionStep,
  Backend,
  CreateModelOptions,
  Embeddings,
  EvalResult,
  F16Support,
  FillMaskResult,
  GeneratedBatch,
  GeneratedToken,
  GenerateOptions,
  GpuLimits,
  StreamOptions,
  Inspection,
  LoadModelOptions,
  LoraOptions,
  LoraTarget,
  MaskPrediction,
  ModelConfig,
  ModelFiles,
  Objective,
  AugmentOptions,
  BatchPreview,
  BatchPreviewRow,
  TrainOptions,
  TrainProgress,
  TrainResult,
  TrainSnapshot,
} from './model.js';
export { Classifier, classifyTasks, finetune } from './finetune.js';
export type {
  Classification,
  ClassifyTaskInfo,
  ClassProbability,
  FinetuneEval,
  FinetuneOptions,
  FinetuneProgress,
  FinetuneResult,
  FinetuneRun,
  FinetuneRunName,
} from './finetune.js';
export { distill } from './lab.js';
export type { DistillEval, DistillOptions, DistillProgress, DistillResult, DistillRun } from './lab.js';
export { search, trialSeed } from './lab-search.js';
export type { SearchOptions, SearchResult, SearchSpace, SearchValues, TrialParams, TrialRecord } from './lab-search.js';
export { overfit, OVERFIT_VARIANTS } from './lab-overfit.js';
export type { OverfitOptions, OverfitPoint, OverfitResult, OverfitSummary, OverfitVariant } from './lab-overfit.js';
export { Seq2SeqModel, seq2seqAvailable, seq2seqTasks } from './seq2seq.js';
export type {
  CreateSeq2SeqOptions,
  Seq2SeqAttention,
  Seq2SeqConfig,
  Seq2SeqEval,
  Seq2SeqPrediction,
  Seq2SeqProgress,
  Seq2SeqTaskName,
  Seq2SeqTrainOptions,
  Seq2SeqTrainResult,
  TranslateOptions,
} from './seq2seq.js';
export { splitText } from './split.js';
export { displayBytes, displayText, memoryReport, modelSize } from './sizes.js';
export type { MemoryFootprint, MemoryReport, ModelSize } from './sizes.js';
export type { TextSplit } from './split.js';
export { LoopControl } from './loop.js';
export { gpuInfo, gpuSelfTest, hasWebGpu } from './gpu.js';
export type { GpuAdapterInfo, GpuInfo, GpuSelfTest, GpuUnavailable } from './gpu.js';

import { core, init } from './core.js';
import { guard, PlaygroundError } from './errors.js';

/** The version of the WebAssembly core. */
export async function version(): Promise<string> {
  await init();
  return core.version();
}

/** A fault drill: makes the core panic on purpose. It rejects with a CoreCrashedError whose `panic` holds the
 *  core's report; afterwards the module is not to be trusted (a page starts a fresh worker). For testing how an
 *  app recovers from a bug in the core. */
export async function simulatePanic(): Promise<never> {
  await init();
  guard('the panic drill', () => core.debugPanic('a drill: the core panicked on purpose'));
  throw new PlaygroundError('the panic drill: the core did not panic');
}
