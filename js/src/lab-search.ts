// Hyperparameter search in the package: the CLI's `tplay search` (crate/src/lab/search.rs) driven from
// TypeScript over the ordinary training API. The search is orchestration, not the model: it draws each trial's
// hyperparameters from the same seeded SplitMix64 draws as the core, trains one Model at a time (create, train
// to each rung, evaluate, dispose) on either backend, stops poor trials by the same successive-halving rule, and
// writes the same records, so a record from the page, the package and the CLI reads alike and a search resumes
// from the records kept so far.
import { abortError, checkSignal, isAbort, messageOf, PlaygroundError } from './errors.js';
import type { LoopControl } from './loop.js';
import { splitText } from './split.js';
import { createModel, DEFAULT_CONFIG, type Backend, type Model, type ModelConfig, type TrainOptions } from './model.js';
import type { Tokenizer } from './tokenizer.js';

/** Values of one hyperparameter: a list (grid and random), or a range drawn uniformly (random only; `log`: on a
 *  log scale). */
export type SearchValues = readonly number[] | { min: number; max: number; log?: boolean };

/** The hyperparameters a search varies, in the order the core draws them (which the seeded draws depend on). */
export const SEARCH_PARAMS = ['lr', 'warmup_steps', 'batch_size', 'n_embd', 'n_layer', 'n_head', 'dropout', 'weight_decay'] as const;
export type SearchParam = (typeof SEARCH_PARAMS)[number];

/** A search space, as the CLI's `--space` JSON: hyperparameters left out keep the base config's or options'. */
export interface SearchSpace {
  strategy?: 'grid' | 'random';
  lr?: SearchValues;
  warmup_steps?: SearchValues;
  batch_size?: SearchValues;
  n_embd?: SearchValues;
  n_layer?: SearchValues;
  n_head?: SearchValues;
  dropout?: SearchValues;
  weight_decay?: SearchValues;
  /** Successive halving's factor: at each rung the best 1/eta go on; 0 turns early stopping off (default 2). */
  eta?: number;
  /** Rungs of successive halving, the last at the full budget (default 3). */
  rungs?: number;
}

/** A trial's hyperparameters (the CLI's names). */
export type TrialParams = Record<SearchParam, number>;

/** A finished trial, as the CLI writes it (a JSON line of `tplay search`): store these to resume a search. */
export interface TrialRecord {
  trial: number;
  /** The trial's seed (weights, batches, dropout): a 32-bit number, as the core derives it. */
  seed: number;
  params: TrialParams;
  /** The validation loss at each rung the trial reached. */
  rungs: { step: number; val_loss: number }[];
  final_val_loss: number | null;
  status: 'completed' | 'stopped' | 'diverged' | 'invalid';
  error?: string;
}

export interface SearchOptions
  extends Pick<TrainOptions, 'text' | 'tokens' | 'valTokens' | 'valFraction' | 'seqLen' | 'lr' | 'warmupSteps' | 'weightDecay' | 'gradClip' | 'batchSize' | 'evalBatches' | 'augment'> {
  space: SearchSpace;
  /** Trials to run (a grid caps it at its size; default 16). */
  trials?: number;
  /** The budget of steps of a trial that is not stopped early (default 200). */
  steps?: number;
  /** The search's seed: each trial's seed comes from it (default 1337). */
  seed?: number;
  /** The tokenizer of the text (its vocabulary is the models'). */
  tokenizer: Pick<Tokenizer, 'encode' | 'vocabSize'>;
  /** The base model config: what the space leaves out. */
  config?: ModelConfig;
  /** Where the trials train (default 'cpu'). One model at a time, disposed when its trial ends. */
  backend?: Backend;
  /** Records of finished trials (from an earlier, interrupted run of the same search): they are not run again. */
  done?: readonly TrialRecord[];
  /** Called with each new record as its trial finishes: store it to resume after a reload. */
  onTrial?: (record: TrialRecord, progress: { done: number; total: number }) => void;
  /** Called after every training step of the trial in progress. */
  onStep?: (progress: { trial: number; step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
  /** Pauses between steps (and between trials) while paused. */
  control?: LoopControl;
}

export interface SearchResult {
  /** Every trial's record, in trial order (the resumed ones included). */
  records: TrialRecord[];
  /** The completed trial with the lowest final validation loss, if any. */
  best: TrialRecord | null;
}

// ---- The core's seeded draws (crate/src/rng.rs: SplitMix64), in BigInt so every bit is the core's.

const MASK64 = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

/** @internal SplitMix64, as the core's Rng. */
export class SplitMix64 {
  #state: bigint;

  constructor(seed: bigint) {
    this.#state = seed & MASK64;
  }

  nextU64(): bigint {
    this.#state = (this.#state + GOLDEN) & MASK64;
    let z = this.#state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return Number(this.nextU64() >> 11n) / 2 ** 53;
  }
}

/** The seed of trial `index` of a search seeded `seed`: the core's `trial_seed` (32 bits, a model's seed). */
export function trialSeed(seed: number, index: number): number {
  const mixed = BigInt(seed) ^ ((BigInt(index) * GOLDEN) & MASK64);
  return Number(new SplitMix64(mixed).nextU64() >> 32n);
}

/** The checked space with its defaults (strategy random, eta 2, rungs 3), or a clear error. */
function checkSpace(space: SearchSpace, what: string): Required<Pick<SearchSpace, 'strategy' | 'eta' | 'rungs'>> & SearchSpace {
  if (typeof space !== 'object' || space === null || Array.isArray(space)) throw new PlaygroundError(`${what}: the search space is not valid: give an object such as { lr: { min: 1e-4, max: 1e-2, log: true } }`);
  const known = new Set<string>([...SEARCH_PARAMS, 'strategy', 'eta', 'rungs']);
  for (const key of Object.keys(space)) {
    if (!known.has(key)) throw new PlaygroundError(`${what}: the search space is not valid: unknown field '${key}' (known: ${[...known].join(', ')})`);
  }
  const strategy = space.strategy ?? 'random';
  if (strategy !== 'grid' && strategy !== 'random') throw new PlaygroundError(`${what}: the search space is not valid: strategy must be 'grid' or 'random'`);
  const whole = (name: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < 0) throw new PlaygroundError(`${what}: the search space is not valid: ${name} must be a whole number >= 0`);
    return value as number;
  };
  const eta = whole('eta', space.eta, 2);
  const rungs = whole('rungs', space.rungs, 3);
  for (const name of SEARCH_PARAMS) {
    const values = space[name];
    if (values === undefined) continue;
    if (Array.isArray(values)) {
      if (values.length === 0) throw new PlaygroundError(`${what}: the search space's ${name} is an empty list`);
      if (!values.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new PlaygroundError(`${what}: the search space is not valid: ${name} must hold numbers`);
      continue;
    }
    const range = values as { min: unknown; max: unknown; log?: unknown };
    if (typeof range !== 'object' || range === null || typeof range.min !== 'number' || typeof range.max !== 'number') {
      throw new PlaygroundError(`${what}: the search space is not valid: ${name} must be a list of numbers or { min, max, log }`);
    }
    if (strategy === 'grid') throw new PlaygroundError(`${what}: a grid search needs a list of values for ${name}, not a range`);
    const { min, max } = range;
    if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max) || (range.log === true && min <= 0)) {
      throw new PlaygroundError(`${what}: the search space's ${name} range [${min}, ${max}] is empty or (log scale) not positive`);
    }
  }
  return { ...space, strategy, eta, rungs };
}

/** The number of trials a grid holds; null for random search. */
function gridSize(space: SearchSpace): number | null {
  if (space.strategy !== 'grid') return null;
  let size = 1;
  for (const name of SEARCH_PARAMS) {
    const values = space[name];
    if (Array.isArray(values)) size *= values.length;
  }
  return size;
}

/** The hyperparameters of trial `index` (seeded `seed`): the core's `trial_params`, draw for draw. */
export function trialParams(space: SearchSpace, index: number, seed: number, base: TrialParams): TrialParams {
  const rng = new SplitMix64(BigInt(seed));
  let stride = 1;
  const out = {} as TrialParams;
  for (const name of SEARCH_PARAMS) {
    const values = space[name];
    let value: number;
    if (values === undefined) value = base[name];
    else if (Array.isArray(values)) {
      const i = space.strategy === 'grid' ? Math.floor(index / stride) % values.length : Math.floor(rng.uniform() * values.length);
      stride *= values.length;
      value = values[Math.min(i, values.length - 1)];
    } else {
      const { min, max, log } = values as { min: number; max: number; log?: boolean };
      const u = rng.uniform();
      value = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
    }
    // The core keeps the whole-number hyperparameters as integers (`as u32` / `as usize`: toward zero).
    const integer = name === 'warmup_steps' || name === 'batch_size' || name.startsWith('n_');
    out[name] = integer ? Math.max(0, Math.trunc(value)) : value;
  }
  return out;
}

/** The steps at which a trial of `steps` is judged: steps / eta^k for k = rungs - 1 .. 0 (the core's). */
export function rungSteps(steps: number, eta: number, rungs: number): number[] {
  if (eta < 2 || rungs < 2) return [steps];
  const out: number[] = [];
  for (let k = rungs - 1; k >= 0; k--) {
    const s = Math.max(1, Math.round(steps / eta ** k));
    if (out.at(-1) !== s) out.push(s);
  }
  return out;
}

/** Successive halving's rule at one rung: go on when `loss` is among the best 1/eta of the earlier trials'
 *  losses at this rung with itself; with fewer than eta to compare it goes on. */
export function keepsGoing(earlier: readonly number[], loss: number, eta: number): boolean {
  if (!Number.isFinite(loss)) return false;
  const keep = eta < 2 ? Infinity : Math.floor((earlier.length + 1) / eta);
  return keep === 0 || earlier.filter((l) => l < loss).length < keep;
}

/** Equal up to the last bits of the floats (a record read back may differ there). */
function sameParams(a: TrialParams, b: TrialParams): boolean {
  const close = (x: number, y: number): boolean => Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y));
  return SEARCH_PARAMS.every((name) => close(a[name], b[name]));
}

/** The completed trial with the lowest final validation loss. */
export function bestTrial(records: readonly TrialRecord[]): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const r of records) {
    if (r.status === 'completed' && typeof r.final_val_loss === 'number' && (best === null || r.final_val_loss < best.final_val_loss!)) best = r;
  }
  return best;
}

/**
 * Grid or random hyperparameter search with asynchronous successive halving (the CLI's `tplay search`): trials
 * one after another, so only one model is held at a time. Each trial has its own seed, so a stored record is
 * reproducible alone; pass the records kept so far as `done` to resume a search where it stopped.
 */
export async function search(options: SearchOptions): Promise<SearchResult> {
  const what = 'the search failed';
  const { trials = 16, steps = 200, seed = 1337, tokenizer, signal, onTrial, onStep, control } = options;
  if (!Number.isInteger(trials) || trials < 1) throw new PlaygroundError(`${what}: trials must be a whole number >= 1 (got ${trials})`);
  if (!Number.isInteger(steps) || steps < 1) throw new PlaygroundError(`${what}: steps must be a whole number >= 1 (got ${steps})`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PlaygroundError(`${what}: seed must be a whole number from 0 to 4294967295`);
  if (!tokenizer) throw new PlaygroundError(`${what}: give the tokenizer of the text`);
  const space = checkSpace(options.space, what);
  checkSignal(signal, 'search');
  let train: Uint32Array;
  let val: Uint32Array;
  if (options.text !== undefined) {
    if (typeof options.text !== 'string') throw new PlaygroundError(`${what}: text must be a string`);
    const parts = splitText(options.text, options.valFraction ?? 0.1);
    train = tokenizer.encode(parts.train);
    val = tokenizer.encode(parts.validation);
  } else if (options.tokens !== undefined) {
    train = Uint32Array.from(options.tokens);
    val = Uint32Array.from(options.valTokens ?? []);
  } else throw new PlaygroundError(`${what}: give text (or tokens) to train on`);
  const vocabSize = options.config?.vocabSize ?? tokenizer.vocabSize;

  // What the space leaves out: the base config's and options' values, as the core holds them (f32 floats).
  const baseConfig = { ...DEFAULT_CONFIG, ...(options.config ?? {}) };
  const base: TrialParams = {
    lr: Math.fround(options.lr ?? 1e-3),
    warmup_steps: options.warmupSteps ?? 20,
    batch_size: options.batchSize ?? 16,
    n_embd: baseConfig.nEmbd,
    n_layer: baseConfig.nLayer,
    n_head: baseConfig.nHead,
    dropout: Math.fround(baseConfig.dropout),
    weight_decay: Math.fround(options.weightDecay ?? 0.1),
  };
  const total = Math.min(trials, gridSize(space) ?? trials);
  const rungs = rungSteps(steps, space.eta, space.rungs);
  const done = options.done ?? [];
  const records: TrialRecord[] = [];
  for (let index = 0; index < total; index++) {
    const trialSeedValue = trialSeed(seed, index);
    const params = trialParams(space, index, trialSeedValue, base);
    const old = done.find((r) => r.trial === index);
    if (old) {
      if (Number(old.seed) !== trialSeedValue || !old.params || !sameParams(old.params, params)) {
        throw new PlaygroundError(
          `${what}: trial ${index} of the stored records was run with another space or seed (its seed ${String(old.seed)} and parameters differ); start a new search`,
        );
      }
      records.push(old);
      continue;
    }
    if (signal?.aborted) throw abortError('search');
    if (control?.paused) await control.waitWhilePaused(signal, 'search');
    const record = await runTrial({ options, space, index, seed: trialSeedValue, params, rungs, earlier: records, train, val, vocabSize, onStep });
    records.push(record);
    onTrial?.(record, { done: index + 1, total });
  }
  return { records, best: bestTrial(records) };
}

interface TrialRun {
  options: SearchOptions;
  space: ReturnType<typeof checkSpace>;
  index: number;
  seed: number;
  params: TrialParams;
  rungs: number[];
  earlier: readonly TrialRecord[];
  train: Uint32Array;
  val: Uint32Array;
  vocabSize: number;
  onStep: SearchOptions['onStep'];
}

/** One trial: a new model, trained to each rung and evaluated, stopped when successive halving says so. */
async function runTrial(run: TrialRun): Promise<TrialRecord> {
  const { options, space, index, seed, params, rungs } = run;
  const record: TrialRecord = { trial: index, seed, params, rungs: [], final_val_loss: null, status: 'completed' };
  const last = rungs[rungs.length - 1];
  let model: Model;
  try {
    model = await createModel({
      // The vocabulary, not the tokenizer: the text is already tokens, and the caller's tokenizer may be replaced
      // (and freed) while the search runs.
      config: { ...options.config, vocabSize: run.vocabSize, nEmbd: params.n_embd, nLayer: params.n_layer, nHead: params.n_head, dropout: params.dropout },
      seed,
      backend: options.backend ?? 'cpu',
    });
  } catch (error) {
    return { ...record, status: 'invalid', error: messageOf(error) };
  }
  try {
    const lr = Math.fround(params.lr);
    const trainOptions: TrainOptions = {
      lr,
      minLr: Math.fround(lr / 10),
      warmupSteps: params.warmup_steps,
      batchSize: params.batch_size,
      weightDecay: params.weight_decay,
      seqLen: options.seqLen,
      gradClip: options.gradClip,
      evalBatches: options.evalBatches,
      augment: options.augment,
      scheduleSteps: last,
      evalInterval: 0,
      snapshotEvery: 0,
      seed,
    };
    try {
      // Zero steps: the data and the optimiser are set up (a batch size the data cannot fill is refused here).
      await model.train({ ...trainOptions, tokens: run.train, valTokens: run.val, steps: 0 });
    } catch (error) {
      if (isAbort(error)) throw error;
      return { ...record, status: 'invalid', error: messageOf(error) };
    }
    let at = 0;
    for (const rung of rungs) {
      let loss: number;
      try {
        await model.train({
          steps: rung - at,
          signal: options.signal,
          onProgress: run.onStep && ((p) => run.onStep!({ trial: index, step: p.step, steps: last, loss: p.loss })),
        });
        at = rung;
        loss = (await model.evaluate()).valLoss;
      } catch (error) {
        if (isAbort(error)) throw error;
        return { ...record, status: 'diverged', error: messageOf(error) };
      }
      record.rungs.push({ step: rung, val_loss: loss });
      record.final_val_loss = loss;
      const atRung: number[] = [];
      for (const r of run.earlier) {
        const x = r.rungs.find((g) => g.step === rung);
        if (x) atRung.push(x.val_loss);
      }
      if (rung !== last && !keepsGoing(atRung, loss, space.eta)) return { ...record, status: 'stopped' };
    }
    return record;
  } finally {
    model.dispose();
  }
}
