// transformer-playground: a transformer you can train and take apart, in the browser (WebGPU or CPU) and Node.
//
//   import { trainTokenizer, generateCorpus } from 'transformer-playground';
//   const text = await generateCorpus('stories', { bytes: 20000 });
//   const tokenizer = await trainTokenizer(text, { kind: 'bpe', vocabSize: 512 });
//   tokenizer.decode(tokenizer.encode('Once upon a time')) === 'Once upon a time';
export { init, isReady } from './wasm.js';
export type { InitOptions, WasmSource } from './wasm.js';
export { PlaygroundError } from './errors.js';
export { resourceCount } from './resources.js';
export type { ResourceKind } from './resources.js';
export { Tokenizer, trainTokenizer, createTokenizer, loadTokenizer } from './tokenizer.js';
export type {
  SplitPattern,
  Token,
  TokenizerKind,
  TokenizerProgress,
  TokenizerStats,
  TrainTokenizerOptions,
} from './tokenizer.js';
export { corpora, generateCorpus } from './corpus.js';
export type { CorpusInfo, GenerateCorpusOptions } from './corpus.js';
export { createModel, DEFAULT_CONFIG, DeviceLostError, hasModelApi, loadModel, Model } from './model.js';
export type {
  AttentionMaps,
  Backend,
  CreateModelOptions,
  EvalResult,
  GenerateOptions,
  LoadModelOptions,
  ModelConfig,
  TrainOptions,
  TrainProgress,
  TrainResult,
} from './model.js';
export { LoopControl } from './loop.js';
export { gpuInfo, gpuSelfTest, hasWebGpu } from './gpu.js';
export type { GpuAdapterInfo, GpuInfo, GpuSelfTest, GpuUnavailable } from './gpu.js';

import { core, init } from './core.js';

/** The version of the WebAssembly core. */
export async function version(): Promise<string> {
  await init();
  return core.version();
}
