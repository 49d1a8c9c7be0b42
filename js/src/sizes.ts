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

/** One way to train, in bytes (see MemoryReport). */
export interface MemoryFootprint {
  precision: 'f32' | 'f16';
  /** Activation checkpointing every this many blocks (0: off). */
  checkpointEvery: number;
  /** The weights (with f16 also their f16 copy). */
  parameters: number;
  gradients: number;
  /** AdamW's two moments. */
  adamw: number;
  /** What the forward pass keeps for the backward pass. */
  activations: number;
  /** The backward's scratch, token ids, loss buffers and the optimizer's scalars. */
  scratch: number;
  total: number;
  /** The largest buffer one kernel binds, and what it is. */
  largestBinding: number;
  largestBindingName: string;
  /** Whether the largest binding fits the adapter's limits (undefined without limits). */
  fits?: boolean;
}

/** The training footprint of a config and batch as the WebGPU executor allocates it. */
export interface MemoryReport {
  batchSize: number;
  seqLen: number;
  gradAccum: number;
  /** f32 without and with checkpointing, then f16 without and with. */
  footprints: MemoryFootprint[];
  /** The adapter's limits the footprints were marked against, when given. */
  limits?: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** Which tensors the f16 footprints count in f16. */
  f16Assumes: string;
}

/**
 * The training memory of `config` (vocabSize required) for `gradAccum` micro-batches of `batchSize` sequences of
 * `seqLen` tokens, broken into parameters, gradients, AdamW's moments, activations and scratch, in f32 and f16,
 * without and with activation checkpointing (every `checkpointEvery` blocks, default 1): the core counts the
 * buffers its WebGPU executor allocates. `limits` (e.g. a GPU's `maxStorageBufferBindingSize` and
 * `maxBufferSize`) marks what does not fit.
 */
export function memoryReport(
  config: ModelConfig,
  options: {
    batchSize?: number;
    seqLen?: number;
    gradAccum?: number;
    checkpointEvery?: number;
    limits?: { maxStorageBufferBindingSize: number; maxBufferSize?: number };
  } = {},
): MemoryReport {
  const what = 'could not report the memory';
  needCore(what);
  if (config.vocabSize === undefined) throw new PlaygroundError(`${what}: config.vocabSize is needed`);
  const snake = snakeConfig(config, config.vocabSize);
  const whole = (name: string, value: number | undefined, least: number) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= least)) {
      throw new PlaygroundError(`${what}: ${name} must be a whole number >= ${least} (got ${String(value)})`);
    }
  };
  whole('batchSize', options.batchSize, 1);
  whole('seqLen', options.seqLen, 0);
  whole('gradAccum', options.gradAccum, 1);
  whole('checkpointEvery', options.checkpointEvery, 1);
  const limits = options.limits;
  if (limits !== undefined) {
    for (const [name, value] of [['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize], ['maxBufferSize', limits.maxBufferSize]] as const) {
      if (value !== undefined && !(typeof value === 'number' && value > 0)) throw new PlaygroundError(`${what}: limits.${name} must be a number of bytes above 0 (got ${String(value)})`);
    }
    if (limits.maxStorageBufferBindingSize === undefined) throw new PlaygroundError(`${what}: limits.maxStorageBufferBindingSize is needed`);
  }
  const r = guard(what, () =>
    core.memoryReport(
      snake,
      options.batchSize ?? 16,
      options.seqLen ?? 0,
      options.gradAccum ?? 1,
      options.checkpointEvery ?? 1,
      true,
      limits?.maxStorageBufferBindingSize ?? 0,
      limits?.maxBufferSize ?? 0,
    ),
  ) as {
    batch_size: number;
    seq_len: number;
    grad_accum: number;
    footprints: Record<string, number | string>[];
    fits: boolean[];
    limits: { max_storage_buffer_binding_size: number; max_buffer_size: number } | null;
    f16_assumes: string;
  };
  return {
    batchSize: r.batch_size,
    seqLen: r.seq_len,
    gradAccum: r.grad_accum,
    footprints: r.footprints.map((f, i) => ({
      precision: f.precision as 'f32' | 'f16',
      checkpointEvery: f.checkpoint_every as number,
      parameters: f.parameters as number,
      gradients: f.gradients as number,
      adamw: f.adamw as number,
      activations: f.activations as number,
      scratch: f.scratch as number,
      total: f.total as number,
      largestBinding: f.largest_binding as number,
      largestBindingName: f.largest_binding_name as string,
      fits: r.fits[i],
    })),
    limits: r.limits ? { maxStorageBufferBindingSize: r.limits.max_storage_buffer_binding_size, maxBufferSize: r.limits.max_buffer_size } : undefined,
    f16Assumes: r.f16_assumes,
  };
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
