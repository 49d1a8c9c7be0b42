// Overfitting and its cures, side by side (the CLI's `tplay overfit`, crate/src/lab/overfit.rs), driven in
// TypeScript over the ordinary training API: the same model trained on a deliberately tiny text once per variant
// (no regularization, dropout, weight decay, augmentation) from the same initial weights, batches and seed. At
// every evaluation the loss is measured on fixed windows of the training text and of unseen validation text, both
// without dropout or augmentation, so the gap (how much was memorised rather than learnt) is measured alike.
import { checkSignal, PlaygroundError } from './errors.js';
import { createModel, type AugmentOptions, type Backend, type Model, type ModelConfig, type TrainOptions } from './model.js';
import type { Tokenizer } from './tokenizer.js';

/** One run of the demo: what it adds to the base (nothing for 'none'). */
export interface OverfitVariant {
  name: string;
  dropout?: number;
  weightDecay?: number;
  augment?: AugmentOptions;
}

export interface OverfitOptions extends Pick<TrainOptions, 'batchSize' | 'seqLen' | 'lr' | 'minLr' | 'warmupSteps' | 'gradClip' | 'evalBatches'> {
  /** The tiny training text, and the unseen validation text (or their token ids). */
  text?: string;
  valText?: string;
  tokens?: Uint32Array | readonly number[];
  valTokens?: Uint32Array | readonly number[];
  /** Needed with text (its vocabulary is the models'). */
  tokenizer?: Pick<Tokenizer, 'encode' | 'vocabSize'>;
  /** The model's shape (dropout comes from the variant). */
  config?: ModelConfig;
  /** Steps of each run (default 200) and the steps between evaluations (default 25). */
  steps?: number;
  evalInterval?: number;
  /** Seed of the initial weights, the batches and dropout: the same for every run (default 7). */
  seed?: number;
  /** The runs (default: none, dropout 0.2, weight decay 1.0, augmentation replace 0.1 / mask 0.05 / delete 0.05). */
  variants?: readonly OverfitVariant[];
  /** Where the models train (default 'cpu'). */
  backend?: Backend;
  onPoint?: (point: OverfitPoint) => void;
  signal?: AbortSignal;
}

/** One evaluation of a run. */
export interface OverfitPoint {
  variant: string;
  step: number;
  trainLoss: number;
  valLoss: number;
}

/** A run's last evaluation, its gap (validation minus training loss) and its best validation loss. */
export interface OverfitSummary {
  variant: string;
  trainLoss: number;
  valLoss: number;
  gap: number;
  bestValLoss: number;
  bestStep: number;
}

export interface OverfitResult {
  points: OverfitPoint[];
  summaries: OverfitSummary[];
}

/** The CLI's default runs. */
export const OVERFIT_VARIANTS: readonly OverfitVariant[] = [
  { name: 'none' },
  { name: 'dropout', dropout: 0.2 },
  { name: 'weight_decay', weightDecay: 1.0 },
  { name: 'augment', augment: { replace: 0.1, mask: 0.05, delete: 0.05 } },
];

function tokensOf(text: string | undefined, ids: Uint32Array | readonly number[] | undefined, tokenizer: OverfitOptions['tokenizer'], what: string, name: string): Uint32Array {
  if (text !== undefined) {
    if (typeof text !== 'string') throw new PlaygroundError(`${what}: ${name} must be a string`);
    if (!tokenizer) throw new PlaygroundError(`${what}: give the tokenizer of the text`);
    return tokenizer.encode(text);
  }
  if (ids !== undefined) return Uint32Array.from(ids);
  throw new PlaygroundError(`${what}: give the ${name} (text or token ids)`);
}

/**
 * Trains the same model once per variant and reports the training and validation losses at every evaluation and
 * each run's final gap. Holds two models at a time: the one training and a copy of its weights that reads the
 * training text's fixed windows (the evaluation the package offers reads the validation data).
 */
export async function overfit(options: OverfitOptions): Promise<OverfitResult> {
  const what = 'the overfitting demo failed';
  const { steps = 200, evalInterval = 25, seed = 7, variants = OVERFIT_VARIANTS, backend = 'cpu', signal, onPoint } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new PlaygroundError(`${what}: steps must be a whole number >= 1 (got ${steps})`);
  if (!Number.isInteger(evalInterval) || evalInterval < 1) throw new PlaygroundError(`${what}: the demo evaluates as it trains: evalInterval must be a whole number >= 1 (got ${evalInterval})`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
  checkSignal(signal, 'the overfitting demo');
  const train = tokensOf(options.text, options.tokens, options.tokenizer, what, 'training text');
  const val = tokensOf(options.valText, options.valTokens, options.tokenizer, what, 'validation text');
  const vocabSize = options.config?.vocabSize ?? options.tokenizer?.vocabSize;
  if (vocabSize === undefined) throw new PlaygroundError(`${what}: give the tokenizer or config.vocabSize`);
  const { batchSize, seqLen, lr = 3e-3, minLr, warmupSteps, gradClip, evalBatches = 4 } = options;
  const base: TrainOptions = { batchSize, seqLen, lr, minLr: minLr ?? lr / 10, warmupSteps, gradClip, evalBatches, seed, evalInterval: 0, snapshotEvery: 0, scheduleSteps: steps };
  const points: OverfitPoint[] = [];
  const summaries: OverfitSummary[] = [];
  for (const variant of variants) {
    const config = { ...options.config, vocabSize, dropout: variant.dropout ?? 0 };
    let model: Model | null = null;
    let probe: Model | null = null;
    try {
      model = await createModel({ config, seed, backend });
      // The reader of the training text: the same shape on the CPU, whose validation data is the training text,
      // so its evaluation windows are the core's (the same sampler, seed and count).
      probe = await createModel({ config: { ...config, dropout: 0 }, seed, backend: 'cpu' });
      await probe.train({ ...base, tokens: train, valTokens: train, steps: 0 });
      const runPoints: OverfitPoint[] = [];
      let done = 0;
      while (done < steps) {
        const chunk = Math.min(evalInterval - (done % evalInterval), steps - done);
        const first = done === 0;
        await model.train(
          first
            ? { ...base, weightDecay: variant.weightDecay ?? 0, augment: variant.augment, tokens: train, valTokens: val, steps: chunk, signal }
            : { steps: chunk, signal },
        );
        done += chunk;
        const valLoss = (await model.evaluate()).valLoss;
        await probe.setWeights(await model.weights());
        const trainLoss = (await probe.evaluate()).valLoss;
        const point = { variant: variant.name, step: done, trainLoss, valLoss };
        runPoints.push(point);
        points.push(point);
        onPoint?.(point);
      }
      const last = runPoints[runPoints.length - 1];
      const best = runPoints.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
      summaries.push({ variant: variant.name, trainLoss: last.trainLoss, valLoss: last.valLoss, gap: last.valLoss - last.trainLoss, bestValLoss: best.valLoss, bestStep: best.step });
    } finally {
      model?.dispose();
      probe?.dispose();
    }
  }
  return { points, summaries };
}
