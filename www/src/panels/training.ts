// The Training panel: the optimiser's settings (checked as you type), the learning-rate schedule they give,
// how many tokens a run sees, and the live charts. The training loop itself needs the model in the core; until
// it is there, the buttons say so.
import { h, replace } from '../dom';
import { type Ctx, type Panel, comingSoon, intro, numberField } from '../ctx';
import { chartFigure, drawChart } from '../chart';
import { formatCount } from '../format';
import { TRAIN_FRACTION } from '../state';

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
    ['seed', 0, 2 ** 32 - 1],
  ];
  for (const [key, lo, hi] of whole) {
    if (!Number.isInteger(s[key]) || s[key] < lo || s[key] > hi) return `${key} must be a whole number from ${lo} to ${hi}.`;
  }
  if (!(s.lr > 0 && s.lr <= 1)) return 'the learning rate must be above 0 and at most 1 (try 3e-3 for a small model).';
  if (!(s.minLr >= 0 && s.minLr <= s.lr)) return 'the final learning rate must be from 0 to the learning rate (a tenth of it is usual).';
  if (s.warmup > s.steps) return `warmup (${s.warmup} steps) cannot be longer than the run (${s.steps} steps).`;
  if (!(s.weightDecay >= 0 && s.weightDecay <= 1)) return 'weight decay must be from 0 to 1.';
  if (!(s.clip >= 0)) return 'the gradient clip must be 0 (off) or more.';
  return null;
}

declare global {
  interface Window {
    tpTrainCheck?: { error: string | null; tokensPerStep: number };
  }
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
      seed: numberField('t-seed', 'Seed', d.seed, { min: 0 }),
    };
    const status = h('p', { id: 'train-status', class: 'message', role: 'status', 'aria-live': 'polite' });
    const budget = h('p', { id: 'train-budget', class: 'explain' });
    const buttons = ['Start', 'Pause', 'Resume', 'Reset'].map((label) =>
      h('button', { type: 'button', id: `train-${label.toLowerCase()}`, disabled: true }, label),
    );
    const controls = h('div', { class: 'row' }, ...buttons);
    const soon = h('div', {});
    const lrChart = chartFigure('lr-chart', 'The learning rate at every step: linear warmup, then cosine decay to the final rate.', [['learning rate', '--accent']]);
    const lossChart = chartFigure('loss-chart', 'Loss while training (appears when a run starts).', [['train loss', '--train'], ['validation loss', '--val', true]]);
    const speedChart = chartFigure('speed-chart', 'Tokens per second.', [['tokens/s', '--pass']]);
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
      status,
      budget,
      controls,
      soon,
      h('div', { class: 'charts' }, lossChart.figure, lrChart.figure, speedChart.figure),
    );
    const read = (): TrainSettings =>
      Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Number(x.input.value)])) as unknown as TrainSettings;
    const update = () => {
      const s = read();
      const error = checkTraining(s);
      const tokensPerStep = s.batch * s.accumulation * ctx.store.model.context;
      window.tpTrainCheck = { error, tokensPerStep };
      if (error) {
        status.textContent = `Cannot train with these settings: ${error}`;
        status.dataset.kind = 'error';
        return;
      }
      status.textContent = '';
      delete status.dataset.kind;
      const corpusTokens = ctx.store.tokenizer ? ctx.store.tokenizer.summary.stats.tokens * TRAIN_FRACTION : null;
      const total = tokensPerStep * s.steps;
      budget.textContent =
        `Each step sees ${formatCount(tokensPerStep)} tokens (batch ${s.batch} × accumulation ${s.accumulation} × context ${ctx.store.model.context}); ` +
        `the run sees ${formatCount(total)}` +
        (corpusTokens ? `, about ${(total / corpusTokens).toFixed(1)} passes over the ${formatCount(Math.round(corpusTokens))} training tokens.` : '.');
      const points: [number, number][] = [];
      const stride = Math.max(1, Math.floor(s.steps / 300));
      for (let step = 1; step < s.steps; step += stride) points.push([step, learningRate(step, s)]);
      points.push([s.steps, learningRate(s.steps, s)]);
      drawChart(lrChart.canvas, 'lr', [{ name: 'learning rate', color: '--accent', points }], { xLabel: 'step', yLabel: 'lr', zeroBased: true });
    };
    const drawEmpty = () => {
      drawChart(lossChart.canvas, 'loss', [], { xLabel: 'step', yLabel: 'loss' });
      drawChart(speedChart.canvas, 'speed', [], { xLabel: 'step', yLabel: 'tokens/s' });
    };
    section.querySelector('form')!.addEventListener('input', update);
    section.querySelector('form')!.addEventListener('submit', (event) => event.preventDefault());
    section.addEventListener('panel-shown', () => {
      update();
      drawEmpty();
    });
    ctx.store.on('model', () => !section.hidden && update());
    ctx.store.on('caps', (caps) => {
      if (!caps.cpuModel) replace(soon, comingSoon('Running the training loop (start, pause, resume, reset) with live loss, perplexity and speed.', 'training'));
    });
  },
};
