// What the core counts without a model: a config's parameters and training memory, and how text is shown.
// These are synchronous: load the core first (await init()).
import { guard, PlaygroundError } from './errors.js';
import { core } from './core.js';
import { isReady } from './wasm.js';
import { snakeConfig, type ModelConfig } from './model.js';

/** Throws a sentence when the core is not loaded yet (a synchronous call cannot wait for it). */
export function needCore(what: string): void {
  if (!isReady()) throw new PlaygroundError(`${what}: the core is not loaded yet: await init() first`);
}

/** The size of a model and of training it, as the core counts them. */
export interface ModelSize {
  params: number;
  /** Weights, gradients and AdamW's two moments: 16 bytes per parameter. */
  weightBytes: number;
  /** Activations kept for the backward pass and gradient scratch, for the whole batch. */
  activationBytes: number;
  /** weightBytes + activationBytes: what training a batch needs. */
  trainingBytes: number;
}

/**
 * The parameter count and training memory of `config` (vocabSize required) for batches of `batchSize`
 * sequences of `seqLen` tokens (default: 16 of blockSize), from the core's own counts. Throws with the core's
 * reason when the config does not fit together.
 */
export function modelSize(config: ModelConfig, options: { batchSize?: number; seqLen?: number } = {}): ModelSize {
  const what = 'could not size the model';
  needCore(what);
  if (config.vocabSize === undefined) throw new PlaygroundError(`${what}: config.vocabSize is needed`);
  const snake = snakeConfig(config, config.vocabSize);
  const s = guard(what, () => core.modelSize(snake, options.batchSize ?? 16, options.seqLen ?? 0)) as Record<string, number>;
  return { params: s.params!, weightBytes: s.weight_bytes!, activationBytes: s.activation_bytes!, trainingBytes: s.training_bytes! };
}

/** The readable form of a text as tokens are shown (the core's rule): a space as ␣, a newline as \n, control
 *  characters as <0x07>. */
export function displayText(text: string): string {
  needCore('could not show the text');
  return core.displayBytes(new TextEncoder().encode(String(text)));
}

/** The readable form of bytes (a token's), with bytes that are not whole UTF-8 characters as <0xE2>. */
export function displayBytes(bytes: Uint8Array): string {
  needCore('could not show the bytes');
  return core.displayBytes(bytes);
}
