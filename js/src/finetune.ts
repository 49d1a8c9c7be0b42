// Fine-tuning an encoder: a classification head on a masked-language model (one pre-trained with objective 'mlm'),
// trained on a built-in labelled task beside the same model from new weights (same config, head, passages, batches,
// seed and steps), so the two accuracy curves show what pre-training bought. The core's classifier is the same
// model with a head (crate/src/model/classifier.rs, crate/src/wasm/classify.rs); it trains with the model's own
// step and evaluate, run here one step at a time on the CPU, the two runs in turn.
import { checkSignal, guard, PlaygroundError, wrapError } from './errors.js';
import { LoopControl, runLoop } from './loop.js';
import { track } from './resources.js';
import { core, init } from './core.js';
import { coreTrainOptions, Model, type TrainOptions } from './model.js';
import { Tokenizer } from './tokenizer.js';

/** A built-in labelled task. */
export interface ClassifyTaskInfo {
  /** What `finetune({ task })` takes: 'template'. */
  name: string;
  description: string;
  /** The class names, in label order. */
  classes: string[];
}

/** The built-in labelled tasks: 'template' (which of the four story templates a passage comes from). */
export async function classifyTasks(): Promise<ClassifyTaskInfo[]> {
  await init();
  return JSON.parse(guard('could not list the classification tasks', () => core.classifyTasks())) as ClassifyTaskInfo[];
}

/** Which of the two runs an event belongs to: the pre-trained encoder, or the same model from new weights. */
export type FinetuneRunName = 'pretrained' | 'scratch';

export interface FinetuneOptions extends Pick<TrainOptions, 'batchSize' | 'seqLen' | 'lr' | 'minLr' | 'warmupSteps' | 'weightDecay' | 'gradClip'> {
  /** The encoder: a Model with objective 'mlm' (bidirectional attention) and a tokenizer, e.g. one trained with
   *  train({ text }) on the built-in stories. It is only read (saved), never changed. */
  encoder: Model;
  /** The labelled task (default 'template'; see classifyTasks()). */
  task?: string;
  /** Steps of each run (default 200). */
  steps?: number;
  /** Evaluate the validation accuracy every this many steps, and after the last (default steps / 10). */
  evalInterval?: number;
  /** Labelled training passages (default 512) and validation passages (default 128), drawn from `seed`. */
  trainExamples?: number;
  valExamples?: number;
  /** Seed of the passages, the head, the batches and the scratch run's weights (default 1337). */
  seed?: number;
  /** Also run the same model from new weights (default true): the curve to put beside the fine-tuned one. */
  scratch?: boolean;
  /** Called after every step of either run. */
  onProgress?: (progress: FinetuneProgress) => void;
  /** Called after every evaluation of either run. */
  onEval?: (result: FinetuneEval) => void;
  signal?: AbortSignal;
  control?: LoopControl;
}

export interface FinetuneProgress {
  run: FinetuneRunName;
  /** Steps of this run done, of `total`. */
  done: number;
  total: number;
  loss: number;
}

export interface FinetuneEval {
  run: FinetuneRunName;
  step: number;
  /** The share of validation passages whose most likely class is right. */
  valAccuracy: number;
  valLoss: number;
}

export interface FinetuneRun {
  /** Every evaluation, in step order (the same steps in both runs). */
  evals: FinetuneEval[];
  /** The last evaluation's accuracy and loss. */
  accuracy: number;
  valLoss: number;
  /** Time spent in this run's steps and evaluations. */
  elapsedMs: number;
  /** The trained classifier: classify() text with it; dispose() it when done. */
  classifier: Classifier;
}

export interface FinetuneResult {
  task: string;
  classes: string[];
  steps: number;
  /** Always guessing the most frequent class scores about 1 / classes. */
  chance: number;
  /** Fine-tuned from the encoder's weights. */
  pretrained: FinetuneRun;
  /** The same model from new weights; null with scratch: false. */
  scratch: FinetuneRun | null;
  elapsedMs: number;
}

/** How likely a passage is to belong to one class. */
export interface ClassProbability {
  label: string;
  prob: number;
}

export interface Classification {
  /** The most likely class. */
  label: string;
  /** Every class in label order, with its probability (they sum to 1). */
  probs: ClassProbability[];
  /** Tokens the classifier read: the first `seqLen` of the text, as in training. */
  tokens: number;
  /** The text had more tokens than that. */
  truncated: boolean;
}

/** The core's CpuModel as a classifier uses it (crate/src/wasm/classify.rs and model.rs). */
interface CoreClassifier {
  readonly paramCount: number;
  setClassifyData(task: string, trainExamples: number, valExamples: number, options: unknown): void;
  step(): { loss: number };
  evaluate(): { step: number; val_loss: number; val_accuracy?: number };
  evalDue(): boolean;
  classProbabilities(tokens: Uint32Array): Float32Array;
  saveSafetensors(tokenizerJson?: string | null): Uint8Array;
  free(): void;
}

interface CoreEncoder {
  withClassifier(task: string, scratch: boolean, seed: number): CoreClassifier;
  free(): void;
}

/** A classification head on an encoder, fine-tuned by finetune(). */
export class Classifier {
  #inner: CoreClassifier | null;
  #tokenizer: Tokenizer;

  /** @internal */
  constructor(
    inner: CoreClassifier,
    tokenizer: Tokenizer,
    readonly task: string,
    readonly classes: readonly string[],
    /** Tokens read per passage (the fine-tuning's seqLen). */
    readonly seqLen: number,
  ) {
    this.#inner = inner;
    this.#tokenizer = tokenizer;
    track('model', 1);
  }

  #core(): CoreClassifier {
    if (this.#inner === null) throw new PlaygroundError('this classifier was disposed');
    return this.#inner;
  }

  get paramCount(): number {
    return this.#core().paramCount;
  }

  get disposed(): boolean {
    return this.#inner === null;
  }

  /** The class probabilities of `text` (its first seqLen tokens, as the passages were read in training). */
  async classify(text: string): Promise<Classification> {
    const what = 'could not classify the text';
    const inner = this.#core();
    if (typeof text !== 'string' || text.trim() === '') throw new PlaygroundError(`${what}: the text is empty`);
    const ids = this.#tokenizer.encode(text);
    const read = ids.subarray(0, this.seqLen);
    const p = guard(what, () => inner.classProbabilities(read));
    const probs = this.classes.map((label, k) => ({ label, prob: p[k]! }));
    const best = probs.reduce((a, b) => (b.prob > a.prob ? b : a));
    return { label: best.label, probs, tokens: read.length, truncated: ids.length > read.length };
  }

  /** The classifier as safetensors (the config names its head: "classifier": {"classes": K}), with the tokenizer. */
  async save(): Promise<Uint8Array> {
    const inner = this.#core();
    return guard('could not save the classifier', () => inner.saveSafetensors(this.#tokenizer.save()));
  }

  dispose(): void {
    if (this.#inner === null) return;
    this.#inner.free();
    this.#inner = null;
    this.#tokenizer.dispose();
    track('model', -1);
  }
}

function wholeNumber(value: number, name: string, min: number, what: string): number {
  if (!Number.isInteger(value) || value < min) throw new PlaygroundError(`${what}: ${name} must be a whole number >= ${min} (got ${value})`);
  return value;
}

/**
 * Fine-tunes `encoder` with a classification head on a built-in labelled task, and (scratch, the default) the same
 * model from new weights beside it: same config, head, passages, batches, seed and steps, so the accuracy curves
 * show the point of pre-training. The two runs take turns step by step (onEval reports both as they go).
 *
 *   const { pretrained, scratch } = await finetune({ encoder, task: 'template', steps: 200, evalInterval: 25 });
 *   pretrained.accuracy, scratch.accuracy;                 // the last validation accuracies
 *   await pretrained.classifier.classify('Mira walks up the hill.');   // { label: 'walk', probs: [...] }
 *
 * Throws for a causal encoder (the head goes on a bidirectional one), an unknown task, or settings out of range.
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  const what = 'fine-tuning failed';
  await init();
  const { encoder, task = 'template', steps = 200, trainExamples = 512, valExamples = 128, seed = 1337, scratch = true, signal, onProgress, onEval } = options;
  if (!(encoder instanceof Model)) throw new PlaygroundError(`${what}: encoder must be a Model (one trained with objective 'mlm')`);
  const encoderTokenizer = encoder.tokenizer;
  if (!encoderTokenizer) throw new PlaygroundError(`${what}: the encoder has no tokenizer to read the passages with`);
  wholeNumber(steps, 'steps', 1, what);
  wholeNumber(trainExamples, 'trainExamples', 1, what);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
  const batchSize = wholeNumber(options.batchSize ?? 32, 'batchSize', 1, what);
  const evalInterval = wholeNumber(options.evalInterval ?? Math.max(1, Math.floor(steps / 10)), 'evalInterval', 1, what);
  if (!Number.isInteger(valExamples) || valExamples < batchSize) {
    throw new PlaygroundError(`${what}: valExamples must be a whole number of at least one batch (batchSize ${batchSize}; got ${valExamples})`);
  }
  checkSignal(signal, 'fine-tuning');
  const seqLen = options.seqLen ?? encoder.config.blockSize;
  const trainOptions = coreTrainOptions(
    { batchSize, seqLen, lr: options.lr ?? 1e-3, minLr: options.minLr ?? (options.lr ?? 1e-3) / 10, warmupSteps: options.warmupSteps ?? 10, weightDecay: options.weightDecay, gradClip: options.gradClip, evalInterval, evalBatches: Math.floor(valExamples / batchSize), seed },
    steps,
    what,
  );
  // The task's classes (an unknown task is the core's error, which lists the tasks).
  const info = (await classifyTasks()).find((t) => t.name === String(task).trim().toLowerCase());

  // Both classifiers start from the encoder's saved weights (a model on WebGPU copies them off the GPU first), so
  // the encoder itself is never touched, and each gets its own copy of the tokenizer.
  const encoderBytes = await encoder.save().catch((error: unknown) => {
    throw wrapError(what, error);
  });
  const CpuModel = core.CpuModel as unknown as { loadSafetensors(bytes: Uint8Array): CoreEncoder };
  const base = guard(what, () => CpuModel.loadSafetensors(encoderBytes));
  type Run = { name: FinetuneRunName; inner: CoreClassifier; evals: FinetuneEval[]; ms: number; done: boolean };
  const runs: Run[] = [];
  try {
    for (const name of scratch ? (['pretrained', 'scratch'] as const) : (['pretrained'] as const)) {
      const inner = guard(what, () => base.withClassifier(String(task), name === 'scratch', seed));
      runs.push({ name, inner, evals: [], ms: 0, done: false });
      guard(what, () => inner.setClassifyData(String(task), trainExamples, valExamples, trainOptions));
    }
  } catch (error) {
    for (const run of runs) run.inner.free();
    throw error;
  } finally {
    base.free();
  }
  if (!info) {
    for (const run of runs) run.inner.free();
    throw new PlaygroundError(`${what}: no task called '${String(task)}'`);
  }

  const start = performance.now();
  try {
    // The runs take turns, one step each, so both curves grow together.
    await runLoop({
      steps,
      what: 'fine-tuning',
      signal,
      control: options.control,
      step: (i) => {
        for (const run of runs) {
          const t0 = performance.now();
          const s = guard(what, () => run.inner.step());
          let result: FinetuneEval | null = null;
          // Due every evalInterval steps and at the schedule's end (the last step).
          if (run.inner.evalDue()) {
            const e = guard(what, () => run.inner.evaluate());
            result = { run: run.name, step: e.step, valAccuracy: e.val_accuracy ?? NaN, valLoss: e.val_loss };
            run.evals.push(result);
          }
          run.ms += performance.now() - t0;
          onProgress?.({ run: run.name, done: i + 1, total: steps, loss: s.loss });
          if (result) onEval?.(result);
        }
      },
    });
  } catch (error) {
    for (const run of runs) run.inner.free();
    throw wrapError(what, error);
  }

  const tokenizerJson = encoderTokenizer.save();
  const finished: FinetuneRun[] = [];
  for (const run of runs) {
    const tokenizer = await Tokenizer.load(tokenizerJson);
    const last = run.evals.at(-1)!;
    finished.push({
      evals: run.evals,
      accuracy: last.valAccuracy,
      valLoss: last.valLoss,
      elapsedMs: run.ms,
      classifier: new Classifier(run.inner, tokenizer, info.name, info.classes, seqLen),
    });
  }
  return {
    task: info.name,
    classes: info.classes,
    steps,
    chance: 1 / info.classes.length,
    pretrained: finished[0]!,
    scratch: finished[1] ?? null,
    elapsedMs: performance.now() - start,
  };
}
