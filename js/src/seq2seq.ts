// Encoder-decoders (objective 'seq2seq'): a model on one of the core's built-in tasks (copy, reverse, sort,
// addition, translate; the pairs are generated from the seed), trained with teacher forcing, evaluated every N
// steps on validation pairs by greedy decoding (exact match, BLEU, chrF, ROUGE-1/2/L), decoded greedily or by
// beam search, and read: the self-attention of both stacks and the cross-attention (target x source).
//
//   const model = await createModel({ config: { objective: 'seq2seq' }, task: 'reverse' });
//   await model.train({ steps: 300, evalInterval: 50, onProgress: (p) => p.eval && console.log(p.eval.exactMatch) });
//   await model.translate('abcdefgh', { beam: 4 });     // 'hgfedcba'
//
// It runs on the CPU (WebAssembly): the WebGPU driver of the encoder-decoder is not in the package yet. The
// bindings are in the WebAssembly core only when it was built with them (`SEQ2SEQ=1 bash scripts/build.sh`: they
// cost about 38 KB gzipped, over the module's size budget for now); seq2seqAvailable() says whether they are.
// Tokens are characters: `<pad>`, `<bos>`, `<eos>` and the characters of the task's pairs.
import { checkSignal, guard, PlaygroundError } from './errors.js';
import { LoopControl, runLoop } from './loop.js';
import { track } from './resources.js';
import { core, init } from './core.js';
import type { Backend } from './model.js';

/** The built-in seq2seq tasks. */
export type Seq2SeqTaskName = 'copy' | 'reverse' | 'sort' | 'addition' | 'translate';

/** The shape of an encoder-decoder: L blocks in the encoder and L in the decoder (pre-norm, as PyTorch's
 *  nn.Transformer with norm_first). The vocabulary and blockSize follow the task: blockSize is at least the
 *  longest source and target + 1. */
export interface Seq2SeqConfig {
  objective: 'seq2seq';
  /** L: blocks per stack (default 2). */
  nLayer?: number;
  /** NH (default 4); must divide nEmbd. */
  nHead?: number;
  /** C (default 64). */
  nEmbd?: number;
  /** The longest source and output (default 16; raised to fit the task's pairs). */
  blockSize?: number;
  ffnMult?: number;
  activation?: 'gelu' | 'relu';
  positional?: 'learned' | 'sinusoidal';
  dropout?: number;
  bias?: boolean;
}

export interface CreateSeq2SeqOptions {
  config: Seq2SeqConfig;
  /** The task whose pairs the model learns. */
  task: Seq2SeqTaskName;
  /** Input lengths of an algorithmic task (characters; digits per operand for addition); default: the task's. */
  lengths?: { min: number; max: number };
  /** Training pairs (default 2000) and validation pairs (default 64), generated from `seed`; validation sources
   *  never occur among the training ones. */
  trainPairs?: number;
  valPairs?: number;
  /** Seed of the pairs, the initial weights and the batches (default 1). */
  seed?: number;
  /** 'cpu' or 'auto' (both: the CPU). 'webgpu' is refused: seq2seq trains on the CPU for now. */
  backend?: Backend;
}

export interface Seq2SeqTrainOptions {
  /** Steps this call runs (default 100). */
  steps?: number;
  /** Steps of the learning-rate schedule (warmup, cosine decay); default: the steps taken so far + `steps`. */
  scheduleSteps?: number;
  /** Pairs per batch (default 32). */
  batchSize?: number;
  /** Default 2e-3, decaying to lr / 10. */
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  gradClip?: number;
  /** Evaluate on the validation pairs every this many steps and at the end (default 50; 0: never). */
  evalInterval?: number;
  /** Validation pairs decoded at each evaluation (default: all of them). */
  evalPairs?: number;
  /** Predictions reported with each evaluation (default 8). */
  shownPredictions?: number;
  /** After every step; `eval` is set on the steps that evaluated. */
  onProgress?: (progress: Seq2SeqProgress) => void;
  onEval?: (result: Seq2SeqEval) => void;
  signal?: AbortSignal;
}

export interface Seq2SeqProgress {
  step: number;
  /** This call's step (1-based) and its number of steps. */
  done: number;
  total: number;
  loss: number;
  lr: number;
  gradNorm: number;
  elapsedMs: number;
  /** The validation metrics, on the steps where they were computed. */
  eval?: Seq2SeqEval;
}

/** One validation pair, the model's greedy output for it and its scores. */
export interface Seq2SeqPrediction {
  source: string;
  target: string;
  prediction: string;
  exact: boolean;
  /** sentence-level chrF and BLEU (0..100) and ROUGE-L F1 (0..1) of this pair alone */
  chrf: number;
  bleu: number;
  rougeL: number;
}

/** Metrics of greedy decoding on the validation pairs (BLEU and chrF as sacreBLEU, 0..100; ROUGE as Google's
 *  rouge-score, and exact match, 0..1) and the teacher-forced validation loss. */
export interface Seq2SeqEval {
  step: number;
  valLoss: number;
  pairs: number;
  exactMatch: number;
  bleu: number;
  chrf: number;
  rouge1: number;
  rouge2: number;
  rougeL: number;
  predictions: Seq2SeqPrediction[];
}

export interface Seq2SeqTrainResult {
  steps: number;
  loss: number;
  eval: Seq2SeqEval | null;
  elapsedMs: number;
}

export interface TranslateOptions {
  /** Beam width (default 1: greedy decoding). */
  beam?: number;
  /** Hugging Face's length_penalty: a finished output scores log-probability / length^this (default 0). */
  lengthPenalty?: number;
  /** The longest output (default: the model's blockSize). */
  maxTokens?: number;
}

/** The attention of one (source, target) pair, teacher-forced. Source columns are the source's characters, then
 *  one `<pad>` column when the encoder read padding (the weights on the padding, summed); every row sums to 1. */
export interface Seq2SeqAttention {
  nLayer: number;
  nHead: number;
  /** Column labels of the encoder's maps and of the cross-attention. */
  sourceTokens: string[];
  /** The decoder's input: `<bos>` then the target's characters (rows and columns of its self-attention). */
  decoderTokens: string[];
  /** What each decoder position writes: the target's characters then `<eos>` (rows of the cross-attention). */
  outputTokens: string[];
  /** (Ls, NH, Ss, Ss) with Ss = the source's length (+1 with `<pad>`); rows: the source's characters only. */
  encoder: Float32Array;
  /** (L, NH, Tt, Tt) causal. */
  decoder: Float32Array;
  /** (L, NH, Tt, Ss): row = target position, column = source position. */
  cross: Float32Array;
  /** Ss and Tt, and the number of encoder rows (the source's characters). */
  sourceColumns: number;
  sourceLength: number;
  targetLength: number;
  encoderHead(layer: number, head: number): Float32Array;
  decoderHead(layer: number, head: number): Float32Array;
  crossHead(layer: number, head: number): Float32Array;
}

/** The core's Seq2SeqModel (crate/src/wasm/seq2seq.rs). */
interface CoreSeq2Seq {
  readonly paramCount: number;
  readonly stepCount: number;
  describe(): string;
  pairs(val: boolean, n: number): string;
  setOptions(options: unknown): void;
  step(): Float64Array;
  evaluate(n: number, shown: number): string;
  translate(source: string, width: number, lengthPenalty: number, maxTokens: number): string;
  attention(source: string, target: string): Float32Array;
  save(): Uint8Array;
  free(): void;
}
type CoreSeq2SeqClass = new (task: string, config: unknown, options: unknown, train: number, val: number, min: number, max: number) => CoreSeq2Seq;

type Seq2SeqCore = { Seq2SeqModel?: CoreSeq2SeqClass; seq2seqTasks?: () => string };

/** The core's seq2seq bindings, if this build has them. Read by name at run time: a bundler that sees
 *  `core.Seq2SeqModel` in a build without them warns that the import is always undefined. */
function bindings(): Seq2SeqCore {
  const names: (keyof Seq2SeqCore)[] = ['Seq2SeqModel', 'seq2seqTasks'];
  const all = core as unknown as Record<string, unknown>;
  return Object.fromEntries(names.map((name) => [name, all[name]])) as Seq2SeqCore;
}

/** The core's seq2seq bindings, or a clear error when this build of the core has none. */
async function seq2seqCore(what: string): Promise<Required<Seq2SeqCore>> {
  await init();
  const c = bindings();
  if (!c.Seq2SeqModel || !c.seq2seqTasks) {
    throw new PlaygroundError(
      `${what}: this build of the WebAssembly core has no encoder-decoder (its bindings cost about 38 KB gzipped, over the ` +
        `module's size budget, so they are built in only with SEQ2SEQ=1 bash scripts/build.sh)`,
    );
  }
  return c as Required<Seq2SeqCore>;
}

/** Whether this build of the WebAssembly core has the encoder-decoder (see the top of this file). */
export async function seq2seqAvailable(): Promise<boolean> {
  await init();
  return typeof bindings().Seq2SeqModel === 'function';
}

/** The built-in seq2seq tasks with one sentence each. */
export async function seq2seqTasks(): Promise<{ name: Seq2SeqTaskName; description: string }[]> {
  const c = await seq2seqCore('could not list the seq2seq tasks');
  const list = JSON.parse(c.seq2seqTasks()) as [Seq2SeqTaskName, string][];
  return list.map(([name, description]) => ({ name, description }));
}

const CONFIG_KEYS: Record<string, string> = {
  nLayer: 'n_layer',
  nHead: 'n_head',
  nEmbd: 'n_embd',
  blockSize: 'block_size',
  ffnMult: 'ffn_mult',
  activation: 'activation',
  positional: 'positional',
  dropout: 'dropout',
  bias: 'bias',
};

function whole(value: unknown, name: string, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new PlaygroundError(`${what}: ${name} must be a whole number >= ${min} (got ${String(value)})`);
  }
  return value;
}

type RawEval = [
  { step: number; val_loss: number; pairs: number; bleu: number; chrf: number; rouge1: number; rouge2: number; rouge_l: number; exact_match: number },
  [string, string, string, number, number, number, number][],
];

/** An encoder-decoder on a seq2seq task, with its optimiser. dispose() frees it. Create it with
 *  `createModel({ config: { objective: 'seq2seq' }, task })`. */
export class Seq2SeqModel extends EventTarget {
  #inner: CoreSeq2Seq | null;
  #busy: string | null = null;
  #control = new LoopControl();
  readonly objective = 'seq2seq' as const;
  readonly backend = 'cpu' as const;
  readonly backendReason: string;
  readonly task: Seq2SeqTaskName;
  /** The characters of the vocabulary (after `<pad>`, `<bos>`, `<eos>`). */
  readonly vocab: string;
  readonly config: Required<Seq2SeqConfig> & { vocabSize: number };
  #valPairs: number;

  private constructor(inner: CoreSeq2Seq, reason: string, valPairs: number) {
    super();
    this.#inner = inner;
    this.backendReason = reason;
    const [c, task, vocab] = JSON.parse(inner.describe()) as [Record<string, never>, Seq2SeqTaskName, string];
    this.task = task;
    this.vocab = vocab;
    this.config = {
      objective: 'seq2seq',
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
    };
    this.#valPairs = valPairs;
    track('model', 1);
  }

  /** A new encoder-decoder with random weights on `options.task`. */
  static async create(options: CreateSeq2SeqOptions): Promise<Seq2SeqModel> {
    const what = 'could not create the seq2seq model';
    const Core = (await seq2seqCore(what)).Seq2SeqModel;
    const { config, task, lengths, trainPairs = 2000, valPairs = 64, seed = 1, backend = 'auto' } = options ?? ({} as CreateSeq2SeqOptions);
    if (backend === 'webgpu') {
      throw new PlaygroundError(`${what}: seq2seq trains on the CPU for now (the encoder-decoder has no WebGPU driver in the package yet): use backend 'cpu' or 'auto'`);
    }
    if (backend !== 'auto' && backend !== 'cpu') throw new PlaygroundError(`${what}: backend must be 'auto', 'webgpu' or 'cpu' (got '${String(backend)}')`);
    if (typeof task !== 'string') {
      const names = (await seq2seqTasks()).map((t) => t.name).join(', ');
      throw new PlaygroundError(`${what}: give a task: one of ${names}`);
    }
    whole(trainPairs, 'trainPairs', what, 1);
    whole(valPairs, 'valPairs', what, 1);
    whole(seed, 'seed', what, 0);
    if (seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
    let min = 0;
    let max = 0;
    if (lengths !== undefined) {
      min = whole(lengths?.min, 'lengths.min', what, 1);
      max = whole(lengths?.max, 'lengths.max', what, 1);
    }
    // The core's defaults for the rest: 2 + 2 blocks, C 64, 4 heads, context 16 (raised to fit the task).
    const snake: Record<string, unknown> = { vocab_size: 1, n_layer: 2, n_head: 4, n_embd: 64, block_size: 16 };
    for (const [key, value] of Object.entries(config ?? {})) {
      if (key === 'objective') continue;
      const name = CONFIG_KEYS[key];
      if (!name) throw new PlaygroundError(`${what}: config.${key} is not an option of an encoder-decoder (${Object.keys(CONFIG_KEYS).join(', ')})`);
      if (value !== undefined) snake[name] = value;
    }
    if (snake.positional === 'rope') throw new PlaygroundError(`${what}: config.positional 'rope' is not supported by the encoder-decoder: use 'learned' or 'sinusoidal'`);
    const inner = guard(what, () => new Core(task, snake, { seed, batch_size: 32, lr: 2e-3, min_lr: 2e-4, warmup_steps: 50, weight_decay: 0.01 }, trainPairs, valPairs, min, max));
    const reason = backend === 'cpu' ? 'asked for the CPU' : 'seq2seq trains on the CPU for now';
    return new Seq2SeqModel(inner, reason, valPairs);
  }

  #core(): CoreSeq2Seq {
    if (this.#inner === null) throw new PlaygroundError('this model was disposed: create a new one');
    return this.#inner;
  }

  async #exclusive<T>(what: string, f: (inner: CoreSeq2Seq) => Promise<T> | T): Promise<T> {
    const inner = this.#core();
    if (this.#busy) throw new PlaygroundError(`cannot start ${what}: the model is busy (${this.#busy}); wait for it or cancel it`);
    this.#busy = what;
    try {
      return await f(inner);
    } finally {
      this.#busy = null;
      if (this.#inner === null) inner.free();
    }
  }

  get paramCount(): number {
    return this.#core().paramCount;
  }

  get stepCount(): number {
    return this.#core().stepCount;
  }

  get disposed(): boolean {
    return this.#inner === null;
  }

  get paused(): boolean {
    return this.#control.paused;
  }

  pause(): void {
    this.#control.pause();
  }

  resume(): void {
    this.#control.resume();
  }

  /** The first `n` validation pairs (or training pairs with `{ val: false }`). */
  pairs(options: { val?: boolean; n?: number } = {}): { source: string; target: string }[] {
    const { val = true, n = 16 } = options;
    whole(n, 'n', 'could not list the pairs', 0);
    return JSON.parse(this.#core().pairs(val, n)) as { source: string; target: string }[];
  }

  /** Trains `steps` steps on random batches of the training pairs; evaluates on the validation pairs every
   *  `evalInterval` steps and after the last step (the metrics in the progress report of that step and in the
   *  `eval` event). Emits `progress`, `eval` and `trained` events. */
  train(options: Seq2SeqTrainOptions = {}): Promise<Seq2SeqTrainResult> {
    const what = 'training failed';
    return this.#exclusive('training', async (inner) => {
      const { steps = 100, evalInterval = 50, shownPredictions = 8, signal, onProgress, onEval } = options;
      checkSignal(signal, 'training');
      whole(steps, 'steps', what, 0);
      whole(evalInterval, 'evalInterval', what, 0);
      whole(shownPredictions, 'shownPredictions', what, 0);
      const evalPairs = whole(options.evalPairs ?? this.#valPairs, 'evalPairs', what, 1);
      const o: Record<string, number> = {
        steps: options.scheduleSteps ?? inner.stepCount + Math.max(steps, 1),
        batch_size: options.batchSize ?? 32,
        lr: options.lr ?? 2e-3,
        warmup_steps: options.warmupSteps ?? Math.min(50, Math.floor((inner.stepCount + steps) / 10)),
        weight_decay: options.weightDecay ?? 0.01,
        eval_interval: evalInterval,
      };
      o.min_lr = options.minLr ?? o.lr! / 10;
      if (options.gradClip !== undefined) o.grad_clip = options.gradClip;
      for (const [k, v] of Object.entries(o)) {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new PlaygroundError(`${what}: ${k} must be a finite number >= 0 (got ${String(v)})`);
      }
      whole(o.batch_size, 'batchSize', what, 1);
      guard(what, () => inner.setOptions(o));
      const start = performance.now();
      let last: Seq2SeqProgress | null = null;
      let lastEval: Seq2SeqEval | null = null;
      const evaluate = (): Seq2SeqEval => {
        const e = this.#evaluate(inner, evalPairs, shownPredictions);
        lastEval = e;
        onEval?.(e);
        this.dispatchEvent(new CustomEvent('eval', { detail: e }));
        return e;
      };
      await runLoop({
        steps,
        what: 'training',
        signal,
        control: this.#control,
        step: (i) => {
          const [step, loss, lr, gradNorm] = guard(what, () => inner.step()) as unknown as number[];
          const progress: Seq2SeqProgress = { step: step!, done: i + 1, total: steps, loss: loss!, lr: lr!, gradNorm: gradNorm!, elapsedMs: performance.now() - start };
          if ((evalInterval > 0 && step! % evalInterval === 0) || (i + 1 === steps && evalInterval > 0)) progress.eval = evaluate();
          last = progress;
          onProgress?.(progress);
          this.dispatchEvent(new CustomEvent('progress', { detail: progress }));
          return progress;
        },
      });
      const result: Seq2SeqTrainResult = {
        steps,
        loss: (last as Seq2SeqProgress | null)?.loss ?? NaN,
        eval: lastEval,
        elapsedMs: performance.now() - start,
      };
      this.dispatchEvent(new CustomEvent('trained', { detail: result }));
      return result;
    });
  }

  #evaluate(inner: CoreSeq2Seq, n: number, shown: number): Seq2SeqEval {
    const [e, predictions] = JSON.parse(guard('evaluation failed', () => inner.evaluate(n, shown))) as RawEval;
    return {
      step: e.step,
      valLoss: e.val_loss,
      pairs: e.pairs,
      exactMatch: e.exact_match,
      bleu: e.bleu,
      chrf: e.chrf,
      rouge1: e.rouge1,
      rouge2: e.rouge2,
      rougeL: e.rouge_l,
      predictions: predictions.map(([source, target, prediction, exact, chrf, bleu, rougeL]) => ({ source, target, prediction, exact: exact === 1, chrf, bleu, rougeL })),
    };
  }

  /** The metrics on the first `pairs` validation pairs (default: all) with `shownPredictions` predictions. */
  evaluate(options: { pairs?: number; shownPredictions?: number } = {}): Promise<Seq2SeqEval> {
    const what = 'evaluation failed';
    return this.#exclusive('evaluation', (inner) => {
      const n = whole(options.pairs ?? this.#valPairs, 'pairs', what, 1);
      return this.#evaluate(inner, n, whole(options.shownPredictions ?? 8, 'shownPredictions', what, 0));
    });
  }

  /** The model's output for `source`: greedy decoding (beam 1) or beam search with a length penalty. */
  translate(source: string, options: TranslateOptions = {}): Promise<string> {
    const what = 'could not translate';
    return this.#exclusive('translating', (inner) => {
      if (typeof source !== 'string') throw new PlaygroundError(`${what}: the source must be a string`);
      const { beam = 1, lengthPenalty = 0, maxTokens = 0 } = options;
      whole(beam, 'beam', what, 1);
      if (beam > 64) throw new PlaygroundError(`${what}: beam must be at most 64 (got ${beam})`);
      if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) throw new PlaygroundError(`${what}: lengthPenalty must be a finite number (got ${String(lengthPenalty)})`);
      whole(maxTokens, 'maxTokens', what, 0);
      return guard(what, () => inner.translate(source, beam, lengthPenalty, maxTokens));
    });
  }

  /** The attention maps of `source` with `target` (default: the model's greedy output for it) fed to the decoder. */
  attention(source: string, target?: string): Promise<Seq2SeqAttention> {
    const what = 'could not read the attention';
    return this.#exclusive('reading attention', (inner) => {
      if (typeof source !== 'string' || (target !== undefined && typeof target !== 'string')) throw new PlaygroundError(`${what}: source and target must be strings`);
      const out = target ?? guard(what, () => inner.translate(source, 1, 0, 0));
      const raw = guard(what, () => inner.attention(source, out));
      return foldAttention(raw, Array.from(source), Array.from(out));
    });
  }

  /** The weights as safetensors (nn.Transformer's names; the vocabulary and task in the metadata), as
   *  `tplay translate --model` reads them. */
  save(): Promise<Uint8Array> {
    return this.#exclusive('saving', (inner) => guard('could not save the model', () => inner.save()));
  }

  /** Frees the model (at the end of a running call, if one runs). */
  dispose(): void {
    if (this.#inner === null) return;
    const inner = this.#inner;
    this.#inner = null;
    track('model', -1);
    if (!this.#busy) inner.free();
  }
}

/** The core's flat maps, with the padding columns of the source folded into one `<pad>` column and the
 *  padding's own encoder rows left out. */
function foldAttention(raw: Float32Array, source: string[], target: string[]): Seq2SeqAttention {
  const [l, nh, ts, tt] = [raw[0]!, raw[1]!, raw[2]!, raw[3]!];
  const n = source.length;
  const pad = ts > n;
  const cols = n + (pad ? 1 : 0);
  const fold = (from: Float32Array, rows: number, keepRows: number): Float32Array => {
    const out = new Float32Array(l * nh * keepRows * cols);
    for (let m = 0; m < l * nh; m++) {
      for (let r = 0; r < keepRows; r++) {
        const src = (m * rows + r) * ts;
        const dst = (m * keepRows + r) * cols;
        for (let c = 0; c < ts; c++) out[dst + Math.min(c, cols - 1)]! += from[src + c]!;
      }
    }
    return out;
  };
  let at = 4;
  const take = (len: number): Float32Array => raw.subarray(at, (at += len));
  const encoder = fold(take(l * nh * ts * ts), ts, n);
  const decoder = take(l * nh * tt * tt).slice();
  const cross = fold(take(l * nh * tt * ts), tt, tt);
  const check = (layer: number, head: number): number => {
    if (!(Number.isInteger(layer) && Number.isInteger(head) && layer >= 0 && layer < l && head >= 0 && head < nh)) {
      throw new PlaygroundError(`there is no layer ${layer}, head ${head}: the model has ${l} layers of ${nh} heads per stack`);
    }
    return layer * nh + head;
  };
  return {
    nLayer: l,
    nHead: nh,
    sourceTokens: pad ? [...source, '<pad>'] : source,
    decoderTokens: ['<bos>', ...target],
    outputTokens: [...target, '<eos>'],
    encoder,
    decoder,
    cross,
    sourceColumns: cols,
    sourceLength: n,
    targetLength: tt,
    encoderHead: (layer, head) => encoder.subarray(check(layer, head) * n * cols, (check(layer, head) + 1) * n * cols),
    decoderHead: (layer, head) => decoder.subarray(check(layer, head) * tt * tt, (check(layer, head) + 1) * tt * tt),
    crossHead: (layer, head) => cross.subarray(check(layer, head) * tt * cols, (check(layer, head) + 1) * tt * cols),
  };
}
