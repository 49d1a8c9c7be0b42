// The experiments lab in the package: knowledge distillation measured against the same student trained without
// its teacher. (Augmentation is a training option, `augment`, with previewBatch() on the model; the core's
// crate/src/lab holds the distillation loss and its trainer, run here one step at a time; the search is
// lab-search.ts.)
import { checkSignal, guard, PlaygroundError, wrapError } from './errors.js';
import { LoopControl, runLoop } from './loop.js';
import { core, init } from './core.js';
import { splitText } from './split.js';
import {
  coreTrainOptions,
  createModel,
  Model,
  snakeConfig,
  type Backend,
  type EvalResult,
  type ModelConfig,
  type TrainOptions,
} from './model.js';

/** Which of the two students an event belongs to. */
export type DistillRun = 'distilled' | 'baseline';

export interface DistillOptions
  extends Pick<
    TrainOptions,
    'text' | 'tokens' | 'valTokens' | 'valFraction' | 'batchSize' | 'seqLen' | 'gradAccum' | 'lr' | 'minLr' | 'warmupSteps' | 'weightDecay' | 'gradClip' | 'evalInterval' | 'evalBatches' | 'augment'
  > {
  /** The teacher: any trained, loaded or imported causal model with a tokenizer (it runs forward only). */
  teacher: Model;
  /** The student's shape (its vocabulary is the teacher's); missing fields take the package's defaults. */
  student: ModelConfig;
  /** Weight of the teacher's soft targets in [0, 1] (default 0.5). */
  alpha?: number;
  /** Temperature of both softmaxes of the soft term (default 2). */
  temperature?: number;
  /** Steps of each run (default 200). */
  steps?: number;
  /** Seed of the student's initial weights, the batches and dropout: the same for both runs (default 1337). */
  seed?: number;
  /** Where the baseline student trains (default 'cpu'); the distilled one trains on the CPU. */
  backend?: Backend;
  /** Called after every step of either run. */
  onProgress?: (progress: DistillProgress) => void;
  /** Called after every evaluation of either run. */
  onEval?: (result: DistillEval) => void;
  signal?: AbortSignal;
  control?: LoopControl;
}

export interface DistillProgress {
  run: DistillRun;
  /** Steps of this run done, of `total`. */
  done: number;
  total: number;
  loss: number;
}

export interface DistillEval extends EvalResult {
  run: DistillRun;
}

export interface DistillResult {
  /** The students' validation losses (plain cross-entropy on the same validation batches), at each evaluation. */
  distilled: EvalResult[];
  baseline: EvalResult[];
  distilledValLoss: number;
  baselineValLoss: number;
  /** baselineValLoss - distilledValLoss: positive when the teacher helped. */
  improvement: number;
  /** The distilled student (on the CPU, with the teacher's tokenizer): dispose() it when done. */
  student: Model;
}

/**
 * Knowledge distillation (Hinton et al.): a student trained on alpha * T^2 * KL(teacher || student at T) +
 * (1 - alpha) * cross-entropy, then the same student (same initial weights, data, batches, seed and steps)
 * trained on the cross-entropy alone, so the teacher's benefit, or its absence, is measured. Only the models of
 * the run in progress are held (the teacher's copy goes when the distilled student is done).
 */
export async function distill(options: DistillOptions): Promise<DistillResult> {
  const what = 'distillation failed';
  await init();
  const { teacher, student, alpha = 0.5, temperature = 2, steps = 200, seed = 1337, signal, onProgress, onEval } = options;
  if (!(teacher instanceof Model)) throw new PlaygroundError(`${what}: teacher must be a Model`);
  const tokenizer = teacher.tokenizer;
  if (!tokenizer) throw new PlaygroundError(`${what}: the teacher has no tokenizer, and the student must read its tokens`);
  if (!Number.isInteger(steps) || steps < 1) throw new PlaygroundError(`${what}: steps must be a whole number >= 1 (got ${steps})`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
  checkSignal(signal, 'distillation');
  let train: Uint32Array;
  let val: Uint32Array;
  if (options.text !== undefined) {
    const parts = splitText(String(options.text), options.valFraction ?? 0.1);
    train = tokenizer.encode(parts.train);
    val = tokenizer.encode(parts.validation);
  } else if (options.tokens !== undefined) {
    train = Uint32Array.from(options.tokens);
    val = Uint32Array.from(options.valTokens ?? []);
  } else throw new PlaygroundError(`${what}: give text (or tokens) to train on`);
  const { batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, gradClip, evalBatches, augment } = options;
  const trainOptions: TrainOptions = {
    batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, gradClip, evalBatches, augment, seed,
    evalInterval: options.evalInterval ?? Math.max(1, Math.floor(steps / 10)),
  };
  const coreOptions = coreTrainOptions(trainOptions, steps, what);
  const vocabSize = teacher.config.vocabSize;

  // The distilled student: the core's distillation trainer, stepped here.
  const teacherBytes = await teacher.save();
  const run = guard(what, () => new core.CpuDistillation(teacherBytes, snakeConfig(student, vocabSize), seed, train, val, coreOptions, alpha, temperature));
  const distilled: EvalResult[] = [];
  let studentBytes: Uint8Array;
  try {
    await runLoop({
      steps,
      what: 'distillation',
      signal,
      control: options.control,
      step: (i) => {
        const s = guard(what, () => run.step()) as { loss: number };
        onProgress?.({ run: 'distilled', done: i + 1, total: steps, loss: s.loss });
        if (run.evalDue() || i + 1 === steps) {
          const e = guard(what, () => run.evaluate()) as { step: number; val_loss: number; val_ppl: number };
          const result: EvalResult = { step: e.step, valLoss: e.val_loss, valPerplexity: e.val_ppl };
          distilled.push(result);
          onEval?.({ run: 'distilled', ...result });
        }
      },
    });
    studentBytes = guard(what, () => run.student());
  } finally {
    run.free();
  }

  // The same student without the teacher: an ordinary model, on the backend asked for.
  const baseline: EvalResult[] = [];
  const base = await createModel({ config: { ...student, vocabSize }, tokenizer, seed, backend: options.backend ?? 'cpu' });
  try {
    await base.train({
      ...trainOptions,
      tokens: train,
      valTokens: val,
      steps,
      signal,
      onProgress: (p) => onProgress?.({ run: 'baseline', done: p.done, total: p.total, loss: p.loss }),
      onEval: (e) => {
        baseline.push(e);
        onEval?.({ run: 'baseline', ...e });
      },
    });
    // train() evaluates at its interval and the schedule's end: make sure the last step has its evaluation.
    if (baseline.at(-1)?.step !== steps) {
      const e = await base.evaluate();
      baseline.push(e);
      onEval?.({ run: 'baseline', ...e });
    }
  } catch (error) {
    throw wrapError(what, error);
  } finally {
    base.dispose();
  }
  const studentModel = await Model.load(studentBytes, { backend: 'cpu', tokenizer });
  const last = (evals: EvalResult[]): number => evals.at(-1)?.valLoss ?? NaN;
  return {
    distilled,
    baseline,
    distilledValLoss: last(distilled),
    baselineValLoss: last(baseline),
    improvement: last(baseline) - last(distilled),
    student: studentModel,
  };
}
