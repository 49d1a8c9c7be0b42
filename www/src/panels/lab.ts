// The Lab panel: training techniques run one against another, so their benefit is measured, not claimed. What the
// model sees after data augmentation (a batch as text); knowledge distillation of the current model into a smaller
// student beside the same student trained alone; a hyperparameter search (runs table, overlaid curves, each
// hyperparameter against the final loss, the best config applied in one click), kept in IndexedDB and resumed
// after a reload. All the work runs in the worker (lab-worker.ts) through the package.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField } from '../ctx';
import { chartFigure, drawChart, type Series } from '../chart';
import { errorMessage } from '../format';
import * as db from '../db';
import '../lab.css';
import type { DistillSummaryView, LabProgress, OverfitPoint, OverfitSummary, SearchRequest, TrialRecord } from '../lab-protocol';

/** The stored search: its request and the records of the finished trials; `running` until it ends or is stopped. */
interface StoredSearch {
  request: SearchRequest;
  records: TrialRecord[];
  running: boolean;
}

const SEARCH_KEY = 'lab-search';

const COLORS = ['--train', '--val', '--pass', '--fail', '--fg', '--muted'];


function num(input: HTMLInputElement): number {
  return Number(input.value);
}

/** The hyperparameters the table and the scatter plots show: name, how to read it from a record, a label. */
const PARAMS: [keyof TrialRecord['params'], string][] = [
  ['lr', 'learning rate'],
  ['warmup_steps', 'warmup'],
  ['batch_size', 'batch'],
  ['n_embd', 'd_model'],
  ['n_layer', 'layers'],
  ['n_head', 'heads'],
  ['dropout', 'dropout'],
  ['weight_decay', 'weight decay'],
];

function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Math.abs(value) > 0 && Math.abs(value) < 0.01 ? value.toExponential(1) : String(Number(value.toFixed(digits)));
}

function mountAugment(ctx: Ctx): HTMLElement {
  const replaceP = numberField('lab-replace', 'Replace', 0.1, { min: 0, max: 1, step: 0.05, hint: 'a token becomes a random one of the text' });
  const maskP = numberField('lab-mask', 'Mask', 0.05, { min: 0, max: 1, step: 0.05, hint: 'a token becomes the mask token' });
  const deleteP = numberField('lab-delete', 'Delete', 0.05, { min: 0, max: 0.9, step: 0.05, hint: 'a span of up to 3 tokens is cut' });
  const show = h('button', { type: 'button', id: 'lab-preview' }, 'Show an augmented batch');
  const status = h('p', { class: 'hint', id: 'lab-preview-status', role: 'status' });
  const out = h('div', { id: 'lab-preview-rows', class: 'lab-rows' });
  show.addEventListener('click', async () => {
    const text = ctx.store.corpus?.text;
    if (!text) {
      status.textContent = 'Choose a corpus in the Data panel first.';
      return;
    }
    status.textContent = 'Drawing a batch…';
    try {
      const augment = { replace: num(replaceP.input), mask: num(maskP.input), delete: num(deleteP.input) };
      const rows = await ctx.core.call('labPreview', text, augment, 1, 4);
      replace(
        out,
        ...rows.map((row, i) =>
          h(
            'div',
            { class: 'lab-row' },
            h('div', { class: 'hint' }, `Row ${i + 1}: ${row.changed} of ${row.inputs.length} tokens differ`),
            h('div', { class: 'lab-tokens', 'aria-label': `row ${i + 1}, the text` }, h('span', { class: 'hint' }, 'text: '), row.window.join('')),
            h(
              'div',
              { class: 'lab-tokens', 'aria-label': `row ${i + 1}, what the model reads` },
              h('span', { class: 'hint' }, 'model reads: '),
              ...row.inputs.map((token, k) => (token === row.window[k] ? token : h('mark', {}, token))),
            ),
          ),
        ),
      );
      status.textContent = 'Changed tokens are marked. Only training batches are augmented; validation never is.';
    } catch (error) {
      status.textContent = errorMessage(error);
    }
  });
  return h(
    'section',
    { class: 'lab-part', 'aria-labelledby': 'lab-augment-h' },
    h('h3', { id: 'lab-augment-h' }, 'Data augmentation: what the model sees'),
    h('p', { class: 'explain' }, 'Augmentation shows the model a slightly different text at every step, so it cannot memorise a small corpus as easily. Replacement and masking change what the model reads but never what it must predict.'),
    h('div', { class: 'grid' }, replaceP.wrap, maskP.wrap, deleteP.wrap),
    h('div', { class: 'row' }, show),
    status,
    out,
  );
}

function mountDistill(ctx: Ctx): HTMLElement {
  const layers = numberField('lab-s-layers', 'Student layers', 1, { min: 1, max: 8 });
  const heads = numberField('lab-s-heads', 'Student heads', 2, { min: 1, max: 16 });
  const width = numberField('lab-s-width', 'Student d_model', 32, { min: 4, max: 512 });
  const alpha = numberField('lab-alpha', 'alpha', 0.5, { min: 0, max: 1, step: 0.1, hint: 'weight of the teacher' });
  const temperature = numberField('lab-temp', 'Temperature', 2, { min: 0.5, max: 20, step: 0.5 });
  const steps = numberField('lab-d-steps', 'Steps', 100, { min: 1, max: 100000 });
  const teacherFile = h('input', { type: 'file', id: 'lab-teacher-file', accept: '.safetensors' }) as HTMLInputElement;
  const teacherPick = h(
    'div',
    { class: 'field' },
    h('label', { for: 'lab-teacher-file' }, 'Teacher: the current model, or a saved one'),
    teacherFile,
    h('span', { class: 'hint' }, 'a .safetensors file, as Save & load downloads it (clear it to use the current model)'),
  );
  const start = h('button', { type: 'button', id: 'lab-distill' }, 'Distil the teacher');
  const stop = h('button', { type: 'button', id: 'lab-distill-stop', disabled: true }, 'Stop');
  const bar = h('progress', { id: 'lab-distill-progress', max: 1, value: 0, 'aria-label': 'distillation progress' });
  const status = h('p', { class: 'hint', id: 'lab-distill-status', role: 'status' });
  const chart = chartFigure('lab-distill-chart', 'Validation loss of the student with and without the teacher', [
    ['with the teacher', '--train'],
    ['without (baseline)', '--val', true],
  ]);
  const series: Record<'distilled' | 'baseline', [number, number][]> = { distilled: [], baseline: [] };
  const draw = () =>
    drawChart(chart.canvas, 'lab-distill-chart', [
      { name: 'with the teacher', color: '--train', points: series.distilled },
      { name: 'without (baseline)', color: '--val', points: series.baseline, dashed: true },
    ], { xLabel: 'step', yLabel: 'validation loss' });
  start.addEventListener('click', async () => {
    const text = ctx.store.corpus?.text;
    const file = teacherFile.files?.[0];
    if (!text || (!ctx.store.modelInfo && !file)) {
      status.textContent = 'Train a model first (the Training panel), or pick a saved one: it is the teacher.';
      return;
    }
    let teacherBytes: Uint8Array | undefined;
    if (file) {
      try {
        teacherBytes = new Uint8Array(await file.arrayBuffer());
      } catch (error) {
        status.textContent = `could not read ${file.name}: ${errorMessage(error)}`;
        return;
      }
    }
    series.distilled = [];
    series.baseline = [];
    draw();
    start.disabled = true;
    stop.disabled = false;
    status.textContent = 'Distilling…';
    const total = num(steps.input);
    try {
      const result: DistillSummaryView = await ctx.core.callWithProgress(
        'labDistill',
        (value) => {
          const p = value as LabProgress;
          if (p.kind === 'step') {
            bar.max = 2 * p.total;
            bar.value = (p.run === 'baseline' ? p.total : 0) + p.done;
            status.textContent = `${p.run === 'baseline' ? 'Baseline student' : 'Student with the teacher'}: step ${p.done} of ${p.total}`;
          } else if (p.kind === 'eval') {
            series[p.run].push([p.step, p.valLoss]);
            draw();
          }
        },
        {
          teacherBytes,
          student: { nLayer: num(layers.input), nHead: num(heads.input), nEmbd: num(width.input) },
          alpha: num(alpha.input),
          temperature: num(temperature.input),
          steps: total,
          batchSize: 8,
          lr: 3e-3,
          seed: 1,
          text,
        },
      );
      series.distilled = result.distilled;
      series.baseline = result.baseline;
      draw();
      const verdict = result.improvement > 0 ? 'the teacher helped' : 'the teacher did not help here';
      status.textContent = `Validation loss with the teacher ${fmt(result.distilledValLoss)}, without ${fmt(result.baselineValLoss)}: ${verdict} (difference ${fmt(result.improvement)}).`;
    } catch (error) {
      status.textContent = errorMessage(error);
    } finally {
      start.disabled = false;
      stop.disabled = true;
    }
  });
  stop.addEventListener('click', () => void ctx.core.call('labStop'));
  return h(
    'section',
    { class: 'lab-part', 'aria-labelledby': 'lab-distill-h' },
    h('h3', { id: 'lab-distill-h' }, 'Knowledge distillation'),
    h('p', { class: 'explain' }, 'The current model (or a saved one) teaches a smaller student with its softened predictions; the same student (same start, data and steps) also trains alone, so you see whether the teacher helps.'),
    h('p', { class: 'formula' }, 'loss = α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α)·CE'),
    teacherPick,
    h('div', { class: 'grid' }, layers.wrap, heads.wrap, width.wrap, alpha.wrap, temperature.wrap, steps.wrap),
    h('div', { class: 'row' }, start, stop, bar),
    status,
    chart.figure,
  );
}

/** The overfitting demo's runs: their names as the page shows them and their colors. */
const OVERFIT_RUNS: [string, string, string][] = [
  ['none', 'no regularization', '--fail'],
  ['dropout', 'dropout 0.2', '--train'],
  ['weight_decay', 'weight decay 1.0', '--muted'],
  ['augment', 'augmentation', '--pass'],
];

function mountOverfit(ctx: Ctx): HTMLElement {
  const trainChars = numberField('lab-o-train', 'Training characters', 2000, { min: 100, max: 1000000, hint: 'deliberately tiny' });
  const valChars = numberField('lab-o-val', 'Validation characters', 20000, { min: 100, max: 10000000, hint: 'from the end of the text' });
  const steps = numberField('lab-o-steps', 'Steps per run', 200, { min: 2, max: 100000 });
  const every = numberField('lab-o-every', 'Evaluate every', 25, { min: 1, max: 10000 });
  const start = h('button', { type: 'button', id: 'lab-overfit' }, 'Run the four trainings');
  const stop = h('button', { type: 'button', id: 'lab-overfit-stop', disabled: true }, 'Stop');
  const bar = h('progress', { id: 'lab-overfit-progress', max: 1, value: 0, 'aria-label': 'overfitting demo progress' });
  const status = h('p', { class: 'hint', id: 'lab-overfit-status', role: 'status' });
  const chart = chartFigure(
    'lab-overfit-chart',
    'Training loss (dashed) and validation loss (solid) of each run',
    OVERFIT_RUNS.map(([, label, color]): [string, string] => [label, color]),
  );
  const table = h('table', { id: 'lab-overfit-table', class: 'lab-table' });
  let points: OverfitPoint[] = [];
  const draw = () =>
    drawChart(
      chart.canvas,
      'lab-overfit-chart',
      OVERFIT_RUNS.flatMap(([name, label, color]): Series[] => {
        const own = points.filter((p) => p.variant === name);
        return [
          { name: `${label}: training`, color, points: own.map((p) => [p.step, p.trainLoss]), dashed: true },
          { name: `${label}: validation`, color, points: own.map((p) => [p.step, p.valLoss]) },
        ];
      }),
      { xLabel: 'step', yLabel: 'loss' },
    );
  const showTable = (summaries: OverfitSummary[]) => {
    const label = (name: string) => OVERFIT_RUNS.find(([n]) => n === name)?.[1] ?? name;
    replace(
      table,
      h('caption', {}, 'Final losses and the gap (validation minus training: what was memorised rather than learnt)'),
      h('thead', {}, h('tr', {}, ...['run', 'training loss', 'validation loss', 'gap', 'best validation loss (step)'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        ...summaries.map((s) =>
          h(
            'tr',
            { 'data-variant': s.variant },
            h('td', {}, label(s.variant)),
            h('td', {}, fmt(s.trainLoss)),
            h('td', {}, fmt(s.valLoss)),
            h('td', { class: 'gap' }, fmt(s.gap)),
            h('td', {}, `${fmt(s.bestValLoss)} (${s.bestStep})`),
          ),
        ),
      ),
    );
  };
  start.addEventListener('click', async () => {
    const text = ctx.store.corpus?.text;
    if (!text || !ctx.store.tokenizer) {
      status.textContent = 'Choose a corpus and train a tokenizer first (the Data and Tokenizer panels).';
      return;
    }
    const m = ctx.store.model;
    const total = num(steps.input);
    points = [];
    draw();
    replace(table);
    start.disabled = true;
    stop.disabled = false;
    bar.max = 4 * total;
    bar.value = 0;
    status.textContent = 'Training the four runs…';
    try {
      const summaries: OverfitSummary[] = await ctx.core.callWithProgress(
        'labOverfit',
        (value) => {
          const p = value as LabProgress;
          if (p.kind !== 'overfit') return;
          points.push(p.point);
          const run = OVERFIT_RUNS.findIndex(([name]) => name === p.point.variant);
          bar.value = run * total + p.point.step;
          status.textContent = `${OVERFIT_RUNS[run]?.[1] ?? p.point.variant}: step ${p.point.step} of ${total}`;
          draw();
        },
        {
          text,
          trainChars: num(trainChars.input),
          valChars: num(valChars.input),
          steps: total,
          evalInterval: num(every.input),
          config: { nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, blockSize: m.blockSize },
        },
      );
      showTable(summaries);
      const none = summaries.find((s) => s.variant === 'none');
      const smallest = [...summaries].sort((a, b) => a.gap - b.gap)[0];
      status.textContent = none && smallest ? `Gap without regularization ${fmt(none.gap)}; the smallest gap: ${OVERFIT_RUNS.find(([n]) => n === smallest.variant)?.[1]} (${fmt(smallest.gap)}).` : 'Done.';
    } catch (error) {
      status.textContent = errorMessage(error);
    } finally {
      start.disabled = false;
      stop.disabled = true;
    }
  });
  stop.addEventListener('click', () => void ctx.core.call('labStop'));
  return h(
    'section',
    { class: 'lab-part', 'aria-labelledby': 'lab-overfit-h' },
    h('h3', { id: 'lab-overfit-h' }, 'Overfitting and its cures'),
    h(
      'p',
      { class: 'explain' },
      'The model of the Model panel trained four times on a deliberately tiny piece of the text (from the same start, batches and seed): without regularization, with dropout, with weight decay and with augmentation. Both losses are measured the same way, without dropout or augmentation, on the training text and on text from the end of the corpus that no run trains on. A wide gap between them means the model memorised rather than learnt.',
    ),
    h('div', { class: 'grid' }, trainChars.wrap, valChars.wrap, steps.wrap, every.wrap),
    h('div', { class: 'row' }, start, stop, bar),
    status,
    chart.figure,
    h('div', { class: 'table-wrap' }, table),
  );
}

function mountSearch(ctx: Ctx): HTMLElement {
  const trials = numberField('lab-trials', 'Trials', 8, { min: 1, max: 256 });
  const steps = numberField('lab-trial-steps', 'Steps per trial', 60, { min: 3, max: 100000 });
  const seed = numberField('lab-search-seed', 'Seed', 1, { min: 0 });
  const start = h('button', { type: 'button', id: 'lab-search' }, 'Start the search');
  const stop = h('button', { type: 'button', id: 'lab-search-stop', disabled: true }, 'Stop');
  const clear = h('button', { type: 'button', id: 'lab-search-clear' }, 'Clear');
  const apply = h('button', { type: 'button', id: 'lab-apply-best', disabled: true }, 'Apply the best config');
  const bar = h('progress', { id: 'lab-search-progress', max: 1, value: 0, 'aria-label': 'search progress' });
  const status = h('p', { class: 'hint', id: 'lab-search-status', role: 'status' });
  const table = h('table', { id: 'lab-runs', class: 'lab-table' });
  const curves = chartFigure('lab-curves', 'Validation loss of every trial at its rungs', []);
  const scatters = h('div', { class: 'lab-scatters' });
  let stored: StoredSearch | null = null;
  let sortKey = 'final';
  let ascending = true;
  let running = false;

  const finalLoss = (r: TrialRecord) => r.final_val_loss ?? Number.POSITIVE_INFINITY;
  const best = (records: TrialRecord[]) =>
    records.filter((r) => r.status === 'completed').sort((a, b) => finalLoss(a) - finalLoss(b))[0] ?? null;

  function renderTable(records: TrialRecord[]): void {
    const columns: [string, string, (r: TrialRecord) => number | string][] = [
      ['trial', 'trial', (r) => r.trial],
      ['status', 'status', (r) => r.status],
      ['final', 'final val loss', (r) => finalLoss(r)],
      ...PARAMS.map(([key, label]): [string, string, (r: TrialRecord) => number] => [key, label, (r) => r.params[key]]),
    ];
    const column = columns.find((c) => c[0] === sortKey) ?? columns[2];
    const rows = [...records].sort((a, b) => {
      const x = column[2](a);
      const y = column[2](b);
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    const top = best(records);
    const head = h(
      'tr',
      {},
      ...columns.map(([key, label]) => {
        const sorted = key === sortKey;
        const button = h('button', { type: 'button', class: 'link', 'data-sort': key }, label, sorted ? (ascending ? ' ▲' : ' ▼') : '');
        button.addEventListener('click', () => {
          ascending = sortKey === key ? !ascending : true;
          sortKey = key;
          renderTable(records);
        });
        return h('th', { scope: 'col', 'aria-sort': sorted ? (ascending ? 'ascending' : 'descending') : undefined }, button);
      }),
    );
    replace(
      table,
      h('caption', {}, 'Trials (click a heading to sort)'),
      h('thead', {}, head),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            { class: r === top ? 'best' : undefined },
            h('td', {}, String(r.trial)),
            h('td', { title: r.error ?? undefined }, r.status),
            h('td', {}, fmt(r.final_val_loss)),
            ...PARAMS.map(([key]) => h('td', {}, fmt(r.params[key], 4))),
          ),
        ),
      ),
    );
  }

  function render(): void {
    const records = stored?.records ?? [];
    renderTable(records);
    const series: Series[] = records.map((r, i) => ({
      name: `trial ${r.trial}`,
      color: COLORS[i % COLORS.length]!,
      points: r.rungs.map((x) => [x.step, x.val_loss] as [number, number]),
      dashed: r.status !== 'completed',
    }));
    drawChart(curves.canvas, 'lab-curves', series, { xLabel: 'step', yLabel: 'validation loss' });
    const finished = records.filter((r) => r.final_val_loss !== null && Number.isFinite(r.final_val_loss));
    replace(
      scatters,
      ...PARAMS.filter(([key]) => new Set(finished.map((r) => r.params[key])).size > 1).map(([key, label]) => {
        const id = `lab-scatter-${key}`;
        const log = key === 'lr';
        const fig = chartFigure(id, `${label} against the final validation loss`, []);
        requestAnimationFrame(() =>
          drawChart(
            fig.canvas,
            id,
            finished.map((r) => ({ name: `trial ${r.trial}`, color: '--accent', points: [[log ? Math.log10(r.params[key]) : r.params[key], r.final_val_loss!]] })),
            { xLabel: log ? `log10 ${label}` : label, yLabel: 'final loss' },
          ),
        );
        return fig.figure;
      }),
    );
    apply.disabled = best(records) === null;
    const total = stored?.request.trials ?? 0;
    bar.max = Math.max(1, total);
    bar.value = records.length;
  }

  async function run(search: StoredSearch): Promise<void> {
    running = true;
    start.disabled = true;
    stop.disabled = false;
    status.textContent = `Searching: ${search.records.length} of ${search.request.trials} trials done…`;
    try {
      const result = await ctx.core.callWithProgress(
        'labSearch',
        (value) => {
          const p = value as LabProgress;
          if (p.kind !== 'trial') return;
          search.records = [...search.records.filter((r) => r.trial !== p.record.trial), p.record].sort((a, b) => a.trial - b.trial);
          void db.save(SEARCH_KEY, search);
          status.textContent = `Searching: trial ${p.record.trial} ${p.record.status} (${fmt(p.record.final_val_loss)}); ${p.done} of ${p.total} done…`;
          render();
        },
        { ...search.request, done: search.records },
      );
      if (result.stopped) {
        search.running = false;
        status.textContent = `Stopped after ${search.records.length} trials. Start continues it.`;
      } else {
        search.records = result.records;
        search.running = false;
        const top = best(result.records);
        status.textContent = top
          ? `Done: the best trial is ${top.trial} with a validation loss of ${fmt(top.final_val_loss)}.`
          : 'Done: no trial completed.';
      }
      await db.save(SEARCH_KEY, search);
      render();
    } catch (error) {
      status.textContent = errorMessage(error);
    } finally {
      running = false;
      start.disabled = false;
      stop.disabled = true;
    }
  }

  start.addEventListener('click', () => {
    const text = ctx.store.corpus?.text;
    if (!text || !ctx.store.tokenizer) {
      status.textContent = 'Choose a corpus and train a tokenizer first (the Data and Tokenizer panels).';
      return;
    }
    const m = ctx.store.model;
    const request: SearchRequest = {
      space: {
        strategy: 'random',
        lr: { min: 3e-4, max: 3e-2, log: true },
        n_embd: [16, 32, 48],
        n_layer: [1, 2],
        dropout: [0, 0.1],
        weight_decay: [0, 0.1],
        eta: 3,
        rungs: 3,
      },
      trials: num(trials.input),
      steps: num(steps.input),
      seed: num(seed.input),
      config: { nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, blockSize: Math.min(32, m.blockSize) },
      batchSize: 8,
      text,
      done: [],
    };
    // The same request again continues the stored search; another one starts afresh.
    const same = stored && JSON.stringify({ ...stored.request, done: [] }) === JSON.stringify(request);
    stored = same && stored ? { ...stored, running: true } : { request, records: [], running: true };
    void db.save(SEARCH_KEY, stored);
    render();
    void run(stored);
  });
  stop.addEventListener('click', () => void ctx.core.call('labStop'));
  clear.addEventListener('click', async () => {
    if (running) await ctx.core.call('labStop');
    stored = null;
    await db.save(SEARCH_KEY, null);
    status.textContent = '';
    render();
  });
  apply.addEventListener('click', () => {
    const top = best(stored?.records ?? []);
    if (!top) return;
    const set = (id: string, value: number) => {
      const input = document.getElementById(id) as HTMLInputElement | null;
      if (!input) return;
      input.value = String(value);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    };
    const p = top.params;
    set('m-layers', p.n_layer);
    set('m-heads', p.n_head);
    set('m-dmodel', p.n_embd);
    set('m-dropout', p.dropout);
    set('t-lr', Number(p.lr.toPrecision(3)));
    set('t-minlr', Number((p.lr / 10).toPrecision(3)));
    set('t-warmup', p.warmup_steps);
    set('t-batch', p.batch_size);
    set('t-wd', p.weight_decay);
    status.textContent = `Applied trial ${top.trial}'s config to the Model and Training panels.`;
  });

  // A search that was running when the page went away goes on once the tokenizer is back.
  void db.load<StoredSearch | null>(SEARCH_KEY).then((saved) => {
    if (!saved) return;
    stored = saved;
    render();
    if (!saved.running) {
      const top = best(saved.records);
      status.textContent = top ? `Done: the best trial is ${top.trial} with a validation loss of ${fmt(top.final_val_loss)}.` : '';
      return;
    }
    const resume = () => {
      if (running || !ctx.store.tokenizer) return false;
      status.textContent = 'Resuming the search that was running…';
      void run(saved);
      return true;
    };
    if (!resume()) ctx.store.on('tokenizer', () => void (stored === saved && saved.running && !running && resume()));
  });

  render();
  return h(
    'section',
    { class: 'lab-part', 'aria-labelledby': 'lab-search-h' },
    h('h3', { id: 'lab-search-h' }, 'Hyperparameter search'),
    h('p', { class: 'explain' }, 'Random search over learning rate (log scale), width, depth, dropout and weight decay, each trial with its own seed. Successive halving stops trials that fall behind at 1/9 and 1/3 of the steps. The runs are kept in the browser: a reload resumes a search.'),
    h('div', { class: 'grid' }, trials.wrap, steps.wrap, seed.wrap),
    h('div', { class: 'row' }, start, stop, clear, apply, bar),
    status,
    h('div', { class: 'table-wrap' }, table),
    curves.figure,
    scatters,
  );
}

export const labPanel: Panel = {
  id: 'lab',
  title: 'Lab',
  mount(section: HTMLElement, ctx: Ctx) {
    section.append(
      ...intro('Lab', 'Training techniques side by side: each one run against the same model without it, so the difference is measured.'),
      mountAugment(ctx),
      mountDistill(ctx),
      mountOverfit(ctx),
      mountSearch(ctx),
    );
  },
};
