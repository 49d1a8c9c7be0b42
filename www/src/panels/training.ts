// The Training panel: the optimiser's settings (checked as you type), the learning-rate schedule they give,
// how many tokens a run sees, and the live charts. The training loop itself needs the model in the core; until
// it is there, the buttons say so.
import { confirmAction, h } from '../dom';
import { type Ctx, type Panel, intro, numberField } from '../ctx';
import { chartFigure, drawChart } from '../chart';
import { countChars, errorMessage, formatCount } from '../format';
import type { CorpusState, Phase } from '../state';
import { SNAPSHOT_EVERY, VAL_FRACTION, type RunOptions, type TokenizerOptions, type TrainProgress } from '../protocol';
import { checkConfig, largestBuffer } from '../model-size';
import * as db from '../db';
import { loraControls } from './lora';
import { type MemoryChoices, memoryControls } from './memory-view';

export interface TrainSettings {
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  batch: number;
  accumulation: number;
  weightDecay: number;
  clip: number;
  evalEvery: number;
  /** Steps between snapshots of the weights (kept in the browser): what a fault can cost at most. 0: none. */
  snapshotEvery: number;
  seed: number;
}

export const DEFAULT_TRAIN: TrainSettings = {
  steps: 300,
  lr: 3e-3,
  minLr: 3e-4,
  warmup: 30,
  batch: 8,
  accumulation: 1,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 25,
  snapshotEvery: SNAPSHOT_EVERY,
  seed: 1,
};

/** The learning rate of optimiser step `step` (1-based): linear warmup to `lr`, then cosine decay to `minLr`
 *  at the last step (the core's TrainOptions::lr_at, crate/src/model/train.rs). */
export function learningRate(step: number, s: TrainSettings): number {
  if (step <= s.warmup) return (s.lr * step) / Math.max(1, s.warmup);
  if (step >= s.steps) return s.minLr;
  const progress = (step - s.warmup) / Math.max(1, s.steps - s.warmup);
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - s.minLr);
}

export function checkTraining(s: TrainSettings): string | null {
  const whole: [keyof TrainSettings, number, number][] = [
    ['steps', 1, 100000],
    ['warmup', 0, 100000],
    ['batch', 1, 512],
    ['accumulation', 1, 64],
    ['evalEvery', 1, 100000],
    ['snapshotEvery', 0, 100000],
    ['seed', 0, 2 ** 32 - 1],
  ];
  for (const [key, lo, hi] of whole) {
    if (!Number.isInteger(s[key]) || s[key] < lo || s[key] > hi) return `${key} must be a whole number from ${lo} to ${hi}.`;
  }
  // Large rates are allowed on purpose: watching a run diverge (and the weights kept) is part of learning.
  if (!(s.lr > 0 && s.lr <= 1e6)) return 'the learning rate must be above 0 and at most 1e6 (try 3e-3 for a small model).';
  if (!(s.minLr >= 0 && s.minLr <= s.lr)) return 'the final learning rate must be from 0 to the learning rate (a tenth of it is usual).';
  if (s.warmup > s.steps) return `warmup (${s.warmup} steps) cannot be longer than the run (${s.steps} steps).`;
  if (!(s.weightDecay >= 0 && s.weightDecay <= 1)) return 'weight decay must be from 0 to 1.';
  if (!(s.clip >= 0)) return 'the gradient clip must be 0 (off) or more.';
  return null;
}


declare global {
  interface Window {
    tpTrainCheck?: { error: string | null; tokensPerStep: number };
    tpTraining?: { state: string; phases: Phase[]; runs: number };
  }
}

export function runOptions(s: TrainSettings, context: number, memory: MemoryChoices = { checkpointActivations: false, precision: 'f32' }): RunOptions {
  return {
    checkpointActivations: memory.checkpointActivations,
    precision: memory.precision,
    batchSize: s.batch,
    seqLen: context,
    gradAccum: s.accumulation,
    steps: s.steps,
    lr: s.lr,
    minLr: s.minLr,
    warmupSteps: s.warmup,
    weightDecay: s.weightDecay,
    gradClip: s.clip,
    evalInterval: s.evalEvery,
    seed: s.seed,
  };
}

const PHASE_COLORS: [string, string][] = [
  ['--train', '--val'],
  ['--pass', '--fail'],
  ['--accent', '--muted'],
];

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const trainingPanel: Panel = {
  id: 'training',
  title: 'Training',
  mount(section: HTMLElement, ctx: Ctx) {
    const d = DEFAULT_TRAIN;
    const f = {
      steps: numberField('t-steps', 'Steps', d.steps, { min: 1 }),
      lr: numberField('t-lr', 'Learning rate', d.lr, { min: 0, step: 'any', hint: 'the peak, after warmup' }),
      minLr: numberField('t-minlr', 'Final learning rate', d.minLr, { min: 0, step: 'any', hint: 'at the last step' }),
      warmup: numberField('t-warmup', 'Warmup steps', d.warmup, { min: 0 }),
      batch: numberField('t-batch', 'Batch size', d.batch, { min: 1, hint: 'windows per micro-batch' }),
      accumulation: numberField('t-accum', 'Grad accumulation', d.accumulation, { min: 1, hint: 'micro-batches per step' }),
      weightDecay: numberField('t-wd', 'Weight decay', d.weightDecay, { min: 0, max: 1, step: 'any' }),
      clip: numberField('t-clip', 'Gradient clip', d.clip, { min: 0, step: 'any', hint: 'global norm; 0 = off' }),
      evalEvery: numberField('t-eval', 'Validate every', d.evalEvery, { min: 1, hint: 'steps' }),
      snapshotEvery: numberField('t-snapshot', 'Snapshot every', d.snapshotEvery, { min: 0, hint: 'steps; a crash loses at most this many (0 = off)' }),
      seed: numberField('t-seed', 'Seed', d.seed, { min: 0 }),
    };
    const status = h('p', { id: 'train-status', class: 'message', role: 'status', 'aria-live': 'polite' });
    /** What a fault (lost device, reload mid-run) did to the model and how to go on; stays until the next run. */
    const notice = h('p', { id: 'train-notice', class: 'notice', role: 'alert', hidden: true });
    const showNotice = (text: string | null) => {
      notice.textContent = text ?? '';
      notice.hidden = text === null;
    };
    const budget = h('p', { id: 'train-budget', class: 'explain' });
    const buttons = ['Start', 'Pause', 'Resume', 'Reset'].map((label) =>
      h('button', { type: 'button', id: `train-${label.toLowerCase()}`, disabled: true }, label),
    );
    const [startButton, pauseButton, resumeButton, resetButton] = buttons;
    const phaseNote = h('p', { id: 'phase-note', class: 'hint' });
    const keep = h('input', { type: 'checkbox', id: 't-keep', disabled: true });
    const keepLabel = h('label', { for: 't-keep', class: 'compact' }, keep, 'Keep the trained weights (fine-tune on the current text)');
    // Activation checkpointing, the precision and the memory figure (memory-view.ts).
    const memory = memoryControls(ctx);
    const progressBar = h('progress', { id: 'train-progress', max: 1, value: 0, 'aria-label': 'training progress' });
    const progressText = h('span', { id: 'train-progress-text', class: 'hint', 'aria-live': 'off' });
    // A masked-language model's masked-token accuracy at the latest evaluation (empty for a causal model).
    const accuracyText = h('p', { id: 'train-accuracy', class: 'hint' });
    const controls = h('div', {}, h('div', { class: 'row' }, ...buttons, keepLabel), h('div', { class: 'row' }, progressBar, progressText), memory.scaling, accuracyText);
    const where = h('p', { class: 'hint', id: 'train-where' });
    /** Which tokenizer a run will use; before there is one, that Start makes a character tokenizer. */
    const tokenizerNote = h('p', { class: 'hint', id: 'train-tokenizer-note' });
    const lrChart = chartFigure('lr-chart', 'The learning rate at every step: linear warmup, then cosine decay to the final rate.', [['learning rate', '--accent']]);
    const lossChart = chartFigure('loss-chart', 'Loss while training (appears when a run starts).', [['train loss', '--train'], ['validation loss', '--val', true]]);
    const lora = loraControls(ctx);
    const speedChart = chartFigure('speed-chart', 'Tokens per second.', [['tokens/s', '--pass']]);
    const pplChart = chartFigure('ppl-chart', 'Perplexity = e^loss: about how many tokens the model hesitates between.', [['train', '--train'], ['validation', '--val', true]]);
    section.append(
      ...intro(
        'Training',
        'Training shows the model windows of text and asks it to predict every next token. The loss measures how ' +
          'surprised it was; the gradient says how to change each weight to be less surprised, and AdamW takes a ' +
          'small step that way. Training loss falls as it learns; validation loss, on text it never trains on, says ' +
          'whether it learns the language or memorises the text. Perplexity is the loss as "how many tokens it ' +
          'hesitates between".',
        'loss = −(1/N) Σ log p(next token)    perplexity = e^loss    θ ← θ − lr · AdamW(∇loss)',
      ),
      h('form', { class: 'grid-form', id: 'train-form' }, ...Object.values(f).map((x) => x.wrap)),
      lora.element,
      status,
      notice,
      budget,
      memory.controls,
      controls,
      tokenizerNote,
      where,
      phaseNote,
      h('div', { class: 'charts' }, lossChart.figure, pplChart.figure, lrChart.figure, speedChart.figure),
      memory.figure,
    );
    const read = (): TrainSettings =>
      Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Number(x.input.value)])) as unknown as TrainSettings;
    const update = () => {
      const s = read();
      const error = checkTraining(s);
      // A fine-tune keeps the loaded model's own context (as the run does), whatever the Model panel says.
      const info = ctx.store.modelInfo;
      const context = keep.checked && hasModel && info ? info.config.blockSize : ctx.store.model.blockSize;
      const tokensPerStep = s.batch * s.accumulation * context;
      window.tpTrainCheck = { error, tokensPerStep };
      checkStart();
      if (error) return;
      void memory.refresh(s.batch, s.accumulation);
      // Without a tokenizer, Start makes a character one: a token per character.
      const corpusText = ctx.store.corpus?.text;
      const allTokens = ctx.store.tokenizer ? ctx.store.tokenizer.summary.stats.tokens : corpusText ? countChars(corpusText) : 0;
      const corpusTokens = allTokens > 0 ? allTokens * (1 - VAL_FRACTION) : null;
      const total = tokensPerStep * s.steps;
      budget.textContent =
        `Each step sees ${formatCount(tokensPerStep)} tokens (batch ${s.batch} × accumulation ${s.accumulation} × context ${context}); ` +
        `the run sees ${formatCount(total)}` +
        (corpusTokens ? `, about ${(total / corpusTokens).toFixed(1)} passes over the ${formatCount(Math.round(corpusTokens))} training tokens.` : '.');
      const points: [number, number][] = [];
      const stride = Math.max(1, Math.floor(s.steps / 300));
      for (let step = 1; step < s.steps; step += stride) points.push([step, learningRate(step, s)]);
      points.push([s.steps, learningRate(s.steps, s)]);
      drawChart(lrChart.canvas, 'lr', [{ name: 'learning rate', color: '--accent', points }], { xLabel: 'step', yLabel: 'lr', zeroBased: true });
    };
    // ---- The run: phases of steps and evaluations, drawn as they arrive.
    const phases: Phase[] = [];
    let state: 'idle' | 'running' | 'paused' | 'done' = 'idle';
    let hasModel = false;
    let lastSettings: TrainSettings | null = null;
    /** Start is making the character tokenizer a run needs. */
    let preparing = false;
    /** The status shows why Start is disabled (cleared when the reason goes away; a run's own messages stay). */
    let blockShown = false;
    /** Runs started on this page (tests wait for the next one). */
    let runs = 0;
    const publish = () => (window.tpTraining = { state, phases, runs });
    /** Where a new run trains: the backend chosen in “Run on”. */
    const trainingBackend = (): 'webgpu' | 'cpu' => ctx.store.backend;
    /** Why Start cannot train now, as the status says it, or null. Checked before the click, so Start is disabled
     *  with the reason beside it rather than enabled and then refusing. (A text too short for the context is
     *  found by the core, which counts its tokens.) */
    const blocker = (): string | null => {
      const s = read();
      const error = checkTraining(s);
      if (error) return `Cannot train with these settings: ${error}`;
      if (!ctx.store.corpus || ctx.store.corpus.text.length === 0) return 'Cannot train: there is no text: choose one in the Data panel.';
      if (ctx.store.modelError) return `Cannot train: the Model panel's settings cannot be built: ${ctx.store.modelError}`;
      // Fine-tuning needs the tokenizer the model was trained with (the same vocabulary).
      const info = ctx.store.modelInfo;
      const current = ctx.store.tokenizer?.summary.vocabSize;
      // (A masked-language model has one id more than its tokenizer: [MASK].)
      const modelVocab = info ? info.config.vocabSize - (info.config.objective === 'mlm' ? 1 : 0) : 0;
      if (keep.checked && hasModel && info && current !== undefined && modelVocab !== current) {
        return (
          `Cannot fine-tune: the model's vocabulary has ${info.config.vocabSize} tokens but the current tokenizer has ${current}. ` +
          'Uncheck “Keep the trained weights” to train a new model with this tokenizer, or load the tokenizer the model was trained with.'
        );
      }
      const loraProblem = lora.problem(keep.checked && hasModel);
      if (loraProblem) return `Cannot fine-tune with LoRA: ${loraProblem}`;
      // The vocabulary is the tokenizer's; before there is one, about a byte's worth of characters.
      const vocab = ctx.store.tokenizer?.summary.vocabSize ?? 256;
      const maxBinding = trainingBackend() === 'webgpu' ? ctx.store.maxBinding() : null;
      const modelError = checkConfig(ctx.store.model, maxBinding, largestBuffer(ctx.store.model, vocab, s.batch));
      return modelError ? `Cannot train: the model settings: ${modelError}` : null;
    };
    const setStatus = (text: string, kind?: 'error') => {
      status.textContent = text;
      if (kind) status.dataset.kind = kind;
      else delete status.dataset.kind;
      blockShown = false;
    };
    const checkStart = () => {
      const busy = state === 'running' || state === 'paused' || preparing;
      const problem = busy ? null : blocker();
      startButton.disabled = busy || problem !== null;
      if (problem) {
        setStatus(problem, 'error');
        blockShown = true;
      } else if (blockShown) {
        setStatus('');
      }
      const tokenizer = ctx.store.tokenizer;
      tokenizerNote.textContent = !tokenizer
        ? 'No tokenizer yet: Start makes a character tokenizer from the text (one token per character). For a BPE tokenizer, train one in the Tokenizer panel first.'
        : tokenizer.auto
          ? `The tokenizer is the character tokenizer Start made (${tokenizer.summary.vocabSize} tokens, one per character). The Tokenizer panel trains a BPE one instead.`
          : '';
    };
    const setState = (next: typeof state) => {
      state = next;
      if (ctx.store.training !== (state === 'running')) ctx.store.set('training', state === 'running');
      checkStart();
      pauseButton.disabled = state !== 'running';
      resumeButton.disabled = state !== 'paused';
      resetButton.disabled = !hasModel || state === 'running';
      keep.disabled = !hasModel || state !== 'done';
      if (!hasModel) keep.checked = false;
      publish();
    };
    const drawRun = () => {
      const lossSeries = phases.flatMap((p, i) => {
        const [train, val] = PHASE_COLORS[i % PHASE_COLORS.length];
        const name = phases.length > 1 ? ` (phase ${i + 1}: ${p.corpus})` : '';
        return [
          { name: `train loss${name}`, color: train, points: p.steps.map((x) => [p.offset + x.step, x.loss] as [number, number]) },
          { name: `validation loss${name}`, color: val, dashed: true, points: p.evals.map((x) => [p.offset + x.step, x.valLoss] as [number, number]) },
        ];
      });
      drawChart(lossChart.canvas, 'loss', lossSeries, { xLabel: 'step', yLabel: 'loss' });
      phaseNote.textContent =
        phases.length > 1
          ? phases.map((p, i) => `phase ${i + 1} (${['blue', 'green', 'purple'][i % 3]}) from step ${p.offset + 1}: “${p.corpus}”`).join(' · ')
          : '';
      const all = phases.flatMap((p) => p.steps.map((x) => ({ ...x, step: p.offset + x.step })));
      const evals = phases.flatMap((p) => p.evals.map((x) => ({ ...x, step: p.offset + x.step })));
      drawChart(pplChart.canvas, 'ppl', [
        { name: 'train', color: '--train', points: all.map((x) => [x.step, Math.exp(x.loss)]) },
        { name: 'validation', color: '--val', dashed: true, points: evals.map((x) => [x.step, x.valPpl]) },
      ], { xLabel: 'step', yLabel: 'perplexity (log)', logY: true });
      drawChart(speedChart.canvas, 'speed', [{ name: 'tokens/s', color: '--pass', points: all.map((x) => [x.step, x.tokensPerSec]) }], { xLabel: 'step', yLabel: 'tokens/s', zeroBased: true });
      if (all.length > 0) drawChart(lrChart.canvas, 'lr-run', [{ name: 'learning rate', color: '--accent', points: all.map((x) => [x.step, x.lr]) }], { xLabel: 'step', yLabel: 'lr', zeroBased: true });
    };
    let drawPending = false;
    const scheduleDraw = () => {
      if (drawPending) return;
      drawPending = true;
      requestAnimationFrame(() => {
        drawPending = false;
        drawRun();
      });
    };
    const drawEmpty = () => drawRun();

    /** Makes (or, for a changed text, remakes) the character tokenizer of a run started without one. */
    const makeCharTokenizer = async (corpus: CorpusState) => {
      const options: TokenizerOptions = { kind: 'char', vocabSize: 0, pattern: 'none' };
      const summary = await ctx.core.call('trainTokenizer', corpus.text, options);
      const json = await ctx.core.call('tokenizerJson');
      ctx.store.set('tokenizer', { options, summary, json, auto: { corpus: corpus.name, characters: summary.stats.characters } });
    };
    /** A fresh run needs a tokenizer: made from the text when the person has not chosen one. */
    const needsCharTokenizer = (corpus: CorpusState | null): boolean => {
      const tokenizer = ctx.store.tokenizer;
      if (!corpus) return false;
      if (!tokenizer) return true;
      // The automatic one follows the text: another text may have characters it lacks.
      return !!tokenizer.auto && (tokenizer.auto.corpus !== corpus.name || tokenizer.auto.characters !== countChars(corpus.text));
    };

    const run = async (resume: boolean) => {
      const settings = resume && lastSettings ? lastSettings : read();
      const refused = resume ? null : blocker();
      if (refused) return setStatus(refused, 'error');
      // The previous run's progress line goes at once, not when the first step arrives.
      if (!resume) {
        progressBar.max = settings.steps;
        progressBar.value = 0;
        progressText.textContent = `starting: step 0 / ${settings.steps}`;
        memory.showScaling(undefined, undefined);
      }
      let madeTokenizer = false;
      if (!resume && !(keep.checked && hasModel) && needsCharTokenizer(ctx.store.corpus)) {
        preparing = true;
        checkStart();
        setStatus('No tokenizer was chosen: making a character tokenizer from the text…');
        try {
          await makeCharTokenizer(ctx.store.corpus!);
          madeTokenizer = true;
        } catch (error) {
          progressText.textContent = '';
          return setStatus(`Cannot train: a character tokenizer could not be made from the text: ${errorMessage(error)}`, 'error');
        } finally {
          preparing = false;
          checkStart();
        }
      }
      const error = checkTraining(settings);
      const model = ctx.store.model;
      const tokenizer = ctx.store.tokenizer;
      const corpus = ctx.store.corpus;
      const vocab = tokenizer?.summary.vocabSize ?? 0;
      // On WebGPU the batch's largest buffer must fit the device's binding limit (the core checks it too).
      const maxBinding = trainingBackend() === 'webgpu' ? ctx.store.maxBinding() : null;
      const modelError = checkConfig(model, maxBinding, largestBuffer(model, vocab, settings.batch));
      const problem = error ?? (modelError ? `the model settings: ${modelError}` : null) ??
        (!corpus ? 'there is no text: choose one in the Data panel.' : !tokenizer ? 'there is no tokenizer: train one in the Tokenizer panel.' : null);
      if (problem) {
        progressText.textContent = '';
        return setStatus(`Cannot train: ${problem}`, 'error');
      }
      lastSettings = settings;
      runs += 1;
      showNotice(null);
      const fineTune = !resume && keep.checked && hasModel;
      if (!resume) {
        if (!fineTune) phases.length = 0;
        const previous = phases.at(-1);
        const offset = previous ? previous.offset + (previous.steps.at(-1)?.step ?? 0) : 0;
        phases.push({ corpus: corpus!.name, offset, steps: [], evals: [] });
      }
      const phase = phases.at(-1)!;
      /** The step of the run's latest snapshot (the weights a fault falls back to), or null before the first. */
      let snapshotStep: number | null = resume ? (phase.steps.at(-1)?.step ?? null) : null;
      const keptPhases = (upTo: number) =>
        phases.map((p) => (p === phase ? { ...p, steps: p.steps.filter((x) => x.step <= upTo), evals: p.evals.filter((x) => x.step <= upTo) } : { ...p, steps: [...p.steps], evals: [...p.evals] }));
      /** After a fault: the run's charts go back to the snapshot the model was restored from. */
      const rewindTo = (step: number) => {
        phase.steps = phase.steps.filter((x) => x.step <= step);
        phase.evals = phase.evals.filter((x) => x.step <= step);
        progressBar.value = step;
        progressText.textContent = `stopped; the model is back at step ${step}`;
      };
      const backend = trainingBackend();
      const on = backend === 'webgpu' ? 'on WebGPU' : 'on the CPU';
      const made = madeTokenizer ? ` No tokenizer was chosen, so a character tokenizer (${tokenizer!.summary.vocabSize} tokens, one per character) was made from the text.` : '';
      setStatus(resume ? 'Resumed.' : fineTune ? `Fine-tuning${lora.settings() ? ' with LoRA' : ''} on “${corpus!.name}”…` : `Training ${on}…${made}`);
      hasModel = true;
      setState('running');
      // A fresh run's charts start empty at once.
      drawRun();
      const started = performance.now();
      const firstStep = phase.steps.at(-1)?.step ?? 0;
      try {
        const summary = await ctx.core.callWithProgress(
          'train',
          (value) => {
            const p = value as TrainProgress;
            if (p.kind === 'step') {
              phase.steps.push({ step: p.step, loss: p.loss, lr: p.lr, tokensPerSec: p.tokensPerSec });
              progressBar.max = settings.steps;
              progressBar.value = p.step;
              const perStep = (performance.now() - started) / Math.max(1, p.step - firstStep);
              const scaling = p.lossScale !== undefined ? ` · loss scale 2^${Math.round(Math.log2(p.lossScale))}, ${p.skippedSteps ?? 0} skipped` : '';
              progressText.textContent = `step ${p.step} / ${settings.steps} · loss ${p.loss.toFixed(3)}${scaling} · ${Math.round(p.tokensPerSec)} tokens/s · about ${formatDuration(perStep * (settings.steps - p.step))} left`;
              memory.showScaling(p.lossScale, p.skippedSteps);
            } else if (p.kind === 'eval') {
              phase.evals.push({ step: p.step, valLoss: p.valLoss, valPpl: p.valPpl });
              accuracyText.textContent =
                p.valAccuracy === undefined ? '' : `Masked-token accuracy at step ${p.step}: ${(p.valAccuracy * 100).toFixed(1)}% of the masked positions guessed right.`;
            } else if (p.kind === 'lora') {
              lora.show(p.memory);
            } else if (p.kind === 'snapshot') {
              // Kept in the browser as it arrives: a reload or a dead worker loses at most SNAPSHOT_EVERY steps.
              snapshotStep = p.step;
              void db.saveAll([
                ['model-weights', p.bytes],
                ['training-phases', keptPhases(p.step)],
                ['training-run', { interrupted: true, step: p.step }],
              ]);
            }
            publish();
            scheduleDraw();
          },
          {
            config: model,
            // A fine-tuned model (loaded or imported) keeps its own context, whatever the Model panel says.
            options: runOptions(settings, fineTune && ctx.store.modelInfo ? ctx.store.modelInfo.config.blockSize : model.blockSize, memory.choices()),
            text: corpus!.text,
            keepWeights: fineTune,
            resume,
            backend,
            snapshotEvery: settings.snapshotEvery,
            lora: fineTune ? (lora.settings() ?? undefined) : undefined,
          },
        );
        void db.save('training-run', null);
        if (summary.stopped === 'device-lost') {
          if (summary.restoredStep !== undefined) rewindTo(summary.restoredStep);
          else phases.pop();
        }
        if (summary.stopped !== 'reset') {
          // Tell the others (Save & load keeps it in the browser; Embeddings redraws).
          ctx.store.set('modelInfo', await ctx.core.call('modelInfo'));
          ctx.store.set('phases', phases.map((p) => ({ ...p, steps: [...p.steps], evals: [...p.evals] })));
        }
        if (summary.stopped === 'device-lost') {
          const restored = summary.restoredStep;
          const reason = (summary.reason ?? 'no reason given').replace(/\.$/, '');
          setStatus(`Training stopped: the GPU device was lost at step ${summary.steps}.`, 'error');
          if (restored !== undefined) {
            showNotice(
              `The GPU device was lost at step ${summary.steps} (${reason}). The model was restored from its snapshot of step ${restored} ` +
                `(snapshots are kept off the GPU every ${settings.snapshotEvery} steps), so ${summary.steps - restored} steps were lost. ` +
                'To continue, press Start with “Keep the trained weights” checked: on WebGPU it opens a new device; choose CPU in “Run on” to train there.',
            );
            hasModel = true;
            setState('done');
            setKeep(true);
          } else {
            showNotice(`The GPU device was lost at step ${summary.steps} (${reason}), before the first snapshot (every ${settings.snapshotEvery} steps): start again.`);
            hasModel = false;
            setState('idle');
          }
        } else if (summary.stopped === 'paused') {
          setStatus(`Paused at step ${summary.steps}.`);
          setState('paused');
        } else if (summary.stopped === 'reset') {
          setState('idle');
        } else {
          setStatus(`Done: ${summary.steps} steps ${on}.`);
          setState('done');
        }
      } catch (error) {
        void db.save('training-run', null);
        // A dead worker was restarted with the latest snapshot: wait for it, then show the run from there.
        await ctx.core.restored;
        const crashed = /worker/.test(errorMessage(error));
        if (crashed) {
          if (snapshotStep !== null) rewindTo(snapshotStep);
          else phase.steps.length = 0;
        }
        if (phase.steps.length > 0) {
          // Diverged or failed mid-run: the core kept the last good weights (or the latest snapshot came back).
          ctx.store.set('modelInfo', await ctx.core.call('modelInfo').catch(() => null));
          ctx.store.set('phases', phases.map((p) => ({ ...p, steps: [...p.steps], evals: [...p.evals] })));
        }
        setStatus(`Training stopped: ${errorMessage(error)}`, 'error');
        if (phase.steps.length === 0) {
          // Nothing ran (bad data or settings): forget the empty phase; a model exists only if one did before.
          phases.pop();
          hasModel = ctx.store.modelInfo !== null;
        }
        setState(phase.steps.length > 0 ? 'done' : hasModel ? 'done' : 'idle');
        // Back from a snapshot: going on means keeping its weights.
        if (crashed && phase.steps.length > 0) setKeep(true);
      }
      drawRun();
    };
    /** What a fresh start or a reset would lose, in words. */
    const trainedModel = () => {
      const params = ctx.store.modelInfo ? `${ctx.store.modelInfo.paramCount.toLocaleString('en-US')} parameters` : 'its weights';
      const steps = phases.reduce((total, p) => total + p.steps.length, 0);
      return steps > 0 ? `${params}, trained for ${steps} steps` : params;
    };
    startButton.addEventListener('click', async () => {
      // Without “Keep the trained weights” a start replaces the model: ask first (Cancel keeps it).
      if (hasModel && !keep.checked) {
        const replace = await confirmAction({
          id: 'confirm-fresh-start',
          title: 'Start over from fresh weights?',
          text:
            `Start without “Keep the trained weights” replaces the model you have (${trainedModel()}) with fresh weights, and it cannot be brought back. ` +
            'To train it further instead, cancel and check “Keep the trained weights”; to keep a copy, download it in Save & load first.',
          confirm: 'Start from fresh weights',
        });
        if (!replace || state === 'running') return;
      }
      void run(false);
    });
    resumeButton.addEventListener('click', () => void run(true));
    pauseButton.addEventListener('click', () => void ctx.core.call('pauseTraining'));
    resetButton.addEventListener('click', async () => {
      const forget = await confirmAction({
        id: 'confirm-reset',
        title: 'Forget the trained model?',
        text: `Reset deletes the model (${trainedModel()}) and its loss chart, here and in this browser's storage; it cannot be brought back. To keep a copy, download it in Save & load first.`,
        confirm: 'Reset the model',
      });
      if (!forget || state === 'running') return;
      await ctx.core.call('resetModel');
      phases.length = 0;
      ctx.store.set('modelInfo', null);
      ctx.store.set('phases', []);
      hasModel = false;
      progressBar.value = 0;
      progressText.textContent = '';
      setStatus('The model was reset: the next start begins from fresh weights.');
      setState('idle');
      drawRun();
    });
    /** “Keep the trained weights” is remembered with the session: a reload that brings the model back keeps it. */
    function setKeep(value: boolean): void {
      keep.checked = value;
      void db.save('training-keep', value);
    }
    // LoRA fine-tunes the weights there are: switching it on keeps them.
    lora.element.addEventListener('input', () => checkStart());
    lora.toggle.addEventListener('change', () => {
      if (lora.toggle.checked && !keep.disabled) setKeep(true);
      checkStart();
    });
    keep.addEventListener('change', () => {
      setKeep(keep.checked);
      if (section.hidden) checkStart();
      else update();
    });
    const restoreKeep = () =>
      void db.load<boolean>('training-keep').then((saved) => {
        if (saved && hasModel && state === 'done') keep.checked = true;
        checkStart();
      });
    if (document.documentElement.dataset.restored) restoreKeep();
    else document.addEventListener('tp-restored', restoreKeep, { once: true });
    let touched = false;
    section.querySelector('form')!.addEventListener('input', () => {
      touched = true;
      // New settings: the last run's message (say, why it stopped) gives way to what these settings allow.
      if (state === 'idle' || state === 'done') setStatus('');
      update();
      if (!checkTraining(read())) void db.save('training-settings', read());
    });
    // A reload during a run: the model came back from the latest snapshot (restored by the Save & load panel).
    void db.load<{ interrupted: boolean; step: number } | null>('training-run').then((run) => {
      if (!run?.interrupted) return;
      void db.save('training-run', null);
      const explain = () => {
        if (!ctx.store.modelInfo || state === 'running') return;
        // The step of the history that came back with the weights (the mark may be a snapshot older).
        const last = phases.at(-1);
        const step = last ? last.offset + (last.steps.at(-1)?.step ?? 0) : run.step;
        showNotice(`The page was closed or reloaded during training. The model came back from its snapshot of step ${step}; press Start with “Keep the trained weights” checked to continue.`);
        setKeep(true);
      };
      if (document.documentElement.dataset.restored) explain();
      else document.addEventListener('tp-restored', explain, { once: true });
    });
    // The settings of the last visit.
    void db.load<TrainSettings>('training-settings').then((saved) => {
      if (!saved || touched) return;
      for (const [key, field] of Object.entries(f)) {
        const value = saved[key as keyof TrainSettings];
        if (typeof value === 'number' && Number.isFinite(value)) field.input.value = String(value);
      }
      if (!section.hidden) update();
      else checkStart();
    });
    section.querySelector('form')!.addEventListener('submit', (event) => event.preventDefault());
    section.addEventListener('panel-shown', () => {
      update();
      drawEmpty();
    });
    // Start's availability follows everything it needs, whether or not the panel is shown.
    const refresh = () => (section.hidden ? checkStart() : update());
    ctx.store.on('model', refresh);
    ctx.store.on('corpus', refresh);
    ctx.store.on('tokenizer', refresh);
    ctx.store.on('modelError', refresh);
    // A model loaded from a file or restored from the browser: the run can continue (fine-tune) from it.
    ctx.store.on('modelInfo', (info) => {
      if (state === 'running') return;
      hasModel = info !== null;
      setState(hasModel ? 'done' : 'idle');
      const s = read();
      lora.refresh(s.batch, info?.config.blockSize ?? ctx.store.model.blockSize);
    });
    ctx.store.on('phases', (restored) => {
      if (state === 'running' || restored === phases) return;
      phases.splice(0, phases.length, ...restored.map((p) => ({ ...p, steps: [...p.steps], evals: [...p.evals] })));
      publish();
      if (!section.hidden) drawRun();
    });
    const showAvailability = () => {
      where.textContent =
        ctx.store.backend === 'webgpu'
          ? 'Training runs on WebGPU. When a run ends or pauses, the weights are copied to the CPU model, which generates, shows the insides and saves. Snapshots of the weights are kept every few steps, so a lost GPU device costs at most that many.'
          : 'Training runs on the CPU (WebAssembly).';
      memory.showPrecision();
      setState(state);
    };
    showAvailability();
    ctx.store.on('backend', showAvailability);
  },
};
