// Memory and precision in the Training panel: the activation-checkpointing switch, the Precision control (f16 only
// where it can run: WebGPU with shader-f16) and the memory of training the current model and batch as the core
// counts its WebGPU executor's buffers (the package's memoryReport): one stacked bar per way to train (f32 and f16,
// without and with checkpointing), split into parameters, gradients, AdamW's moments, activations and scratch, each
// bar's largest buffer set against the adapter's limits. The bar of the next run's choice is marked.
import { h } from '../dom';
import { type Ctx, selectField } from '../ctx';
import { formatBytes } from '../format';
import type { MemoryFootprint, MemoryReport } from '../../../js/src/index';

// Each part's colour is its class in style.css (the page's CSP allows no inline style attributes).
const PARTS: [keyof MemoryFootprint, string][] = [
  ['parameters', 'parameters'],
  ['gradients', 'gradients'],
  ['adamw', 'AdamW moments'],
  ['activations', 'activations'],
  ['scratch', 'scratch'],
];

function barName(f: MemoryFootprint): string {
  return `${f.precision}, ${f.checkpointEvery > 0 ? 'checkpointing' : 'no checkpointing'}`;
}

declare global {
  interface Window {
    /** The memory report the figure shows and the next run's choices (for tests). */
    tpMemory?: { report: MemoryReport | null; choices: MemoryChoices };
  }
}

/** What a run's memory settings are. */
export interface MemoryChoices {
  checkpointActivations: boolean;
  precision: 'f32' | 'f16';
}

/** The controls (a row for the training form), the figure, and what they need from the panel. */
export function memoryControls(ctx: Ctx) {
  // Activation checkpointing: the forward keeps only each block's input; the backward recomputes the rest.
  const checkpoint = h('input', { type: 'checkbox', id: 't-checkpoint' });
  const checkpointLabel = h('label', { for: 't-checkpoint', class: 'compact' }, checkpoint, 'Activation checkpointing (less memory, about one more forward pass per step)');
  // Mixed precision: offered only where it can run; otherwise the hint says why and runs stay f32.
  const precision = selectField('t-precision', 'Precision', [['f32', 'f32'], ['f16', 'f16 (mixed)']], 'f32');
  const precisionNote = h('small', { id: 't-precision-hint', class: 'hint' });
  precision.select.setAttribute('aria-describedby', 't-precision-hint');
  precision.wrap.append(precisionNote);
  const f16Option = precision.select.querySelector('option[value="f16"]') as HTMLOptionElement;
  const controls = h('div', { class: 'row', id: 'memory-controls' }, checkpointLabel, precision.wrap);

  /** Why f16 cannot train here, or null when it can. */
  const f16Unavailable = (): string | null => {
    const adapter = ctx.store.adapter;
    if (ctx.store.backend !== 'webgpu') return 'f16 trains on WebGPU; runs on the CPU stay f32.';
    if (!adapter?.available) return 'there is no WebGPU adapter here, so training stays f32.';
    // (wgpu on the web does not see the adapter's name: often empty.)
    if (!adapter.features.includes('shader-f16')) return `this WebGPU adapter${adapter.name ? ` (${adapter.name})` : ''} has no shader-f16, so training stays f32.`;
    return null;
  };
  const choices = (): MemoryChoices => ({
    checkpointActivations: checkpoint.checked,
    precision: precision.select.value === 'f16' && f16Unavailable() === null ? 'f16' : 'f32',
  });

  const bars = h('div', { id: 'memory-bars', role: 'list' });
  const current = h('p', { id: 'memory-current' });
  const caption = h('figcaption', { class: 'hint', id: 'memory-caption' });
  const legend = h('p', { class: 'hint memory-legend' }, ...PARTS.map(([key, name]) => h('span', {}, h('span', { class: `memory-swatch part-${key}` }), name)));
  const figure = h('figure', { id: 'memory-view', 'aria-label': 'training memory' }, h('h3', {}, 'Memory of training'), current, legend, bars, caption);
  let report: MemoryReport | null = null;

  const draw = () => {
    bars.replaceChildren();
    const chosen = choices();
    window.tpMemory = { report, choices: chosen };
    if (!report) return;
    const most = Math.max(...report.footprints.map((f) => f.total));
    const limit = report.limits?.maxStorageBufferBindingSize;
    for (const f of report.footprints) {
      const segments = PARTS.map(([key, name]) => {
        const bytes = f[key] as number;
        const piece = h('span', { class: `part-${key}`, title: `${name}: ${formatBytes(bytes)}` });
        piece.style.width = `${((100 * bytes) / most).toFixed(2)}%`;
        return piece;
      });
      const isChosen = f.precision === chosen.precision && f.checkpointEvery > 0 === chosen.checkpointActivations;
      const over = f.fits === false;
      const within = limit ? `; the limit is ${formatBytes(limit)}` : '';
      bars.append(
        h(
          'div',
          {
            role: 'listitem',
            class: 'memory-bar',
            'data-precision': f.precision,
            'data-checkpoint': f.checkpointEvery,
            'data-total': f.total,
            'data-activations': f.activations,
            'data-fits': f.fits === undefined ? '' : String(f.fits),
            'data-current': String(isChosen),
          },
          h(
            'div',
            { class: 'hint' },
            `${barName(f)}${isChosen ? ' (the next run)' : ''}: ${formatBytes(f.total)} (activations ${formatBytes(f.activations)}); largest buffer ${formatBytes(f.largestBinding)}, ${f.largestBindingName}${within}` +
              (over ? ' — over this GPU’s limit' : ''),
          ),
          h('div', { class: 'memory-stack' }, ...segments),
        ),
      );
    }
    const mine = report.footprints.find((f) => f.precision === chosen.precision && f.checkpointEvery > 0 === chosen.checkpointActivations);
    const other = report.footprints.find((f) => f.precision === chosen.precision && f.checkpointEvery > 0 !== chosen.checkpointActivations);
    if (mine && other) {
      current.textContent =
        `The next run (${barName(mine)}) needs ${formatBytes(mine.total)}, of which activations ${formatBytes(mine.activations)}; ` +
        `${chosen.checkpointActivations ? 'without' : 'with'} checkpointing: ${formatBytes(other.total)} (activations ${formatBytes(other.activations)}).`;
      current.dataset.total = String(mine.total);
      current.dataset.activations = String(mine.activations);
    }
  };

  const describeLimits = (r: MemoryReport): string => {
    const adapter = ctx.store.adapter;
    if (!r.limits || !adapter?.available) return ' There is no WebGPU adapter here, so no limits are marked.';
    return (
      ` This GPU${adapter.name ? ` (${adapter.name})` : ''} binds at most ${formatBytes(r.limits.maxStorageBufferBindingSize)} per buffer (maxStorageBufferBindingSize) ` +
      `and makes buffers of at most ${formatBytes(r.limits.maxBufferSize)} (maxBufferSize); a bar outlined in red has a buffer over them.`
    );
  };

  let request = 0;
  /** Asks the core for the report of `batch` × `accumulation` windows of the current model (or says why not). */
  const refresh = async (batch: number, accumulation: number) => {
    const mine = ++request;
    const model = ctx.store.model;
    if (ctx.store.modelError) {
      report = null;
      current.textContent = '';
      caption.textContent = `No memory report: the Model panel's settings cannot be built.`;
      draw();
      return;
    }
    // The vocabulary is the tokenizer's (before there is one, about a byte's worth); [MASK] is one more.
    const vocab = (ctx.store.tokenizer?.summary.vocabSize ?? 256) + (model.objective === 'mlm' ? 1 : 0);
    const adapter = ctx.store.adapter;
    const limits = adapter?.available ? adapter.limits : undefined;
    const config = { ...model, vocabSize: vocab };
    try {
      const next = await ctx.core.call('memoryReport', config, { batchSize: batch, seqLen: config.blockSize, gradAccum: accumulation, checkpointEvery: 1, limits });
      if (mine !== request) return;
      report = next;
      caption.textContent =
        `Batch ${next.batchSize} × ${next.seqLen} tokens × ${next.gradAccum} micro-batches, as the WebGPU executor allocates it (the core's memory report).` +
        describeLimits(next) +
        ` The f16 bars count ${next.f16Assumes}.`;
      draw();
    } catch (failure) {
      if (mine !== request) return;
      report = null;
      current.textContent = '';
      caption.textContent = `No memory report: ${failure instanceof Error ? failure.message : String(failure)}`;
      draw();
    }
  };

  /** Follows the backend and adapter: f16 is offered only where it can run. */
  const showPrecision = () => {
    const why = f16Unavailable();
    f16Option.disabled = why !== null;
    if (why !== null) precision.select.value = 'f32';
    precisionNote.textContent = why ?? 'f16 activations and weight copy, f32 weights and optimiser, dynamic loss scaling.';
    draw();
  };
  checkpoint.addEventListener('change', draw);
  precision.select.addEventListener('change', draw);

  /** Dynamic loss scaling of an f16 run, shown while it trains. */
  const scaling = h('p', { id: 'train-scaling', class: 'hint', hidden: true });
  const showScaling = (lossScale: number | undefined, skippedSteps: number | undefined) => {
    scaling.hidden = lossScale === undefined;
    if (lossScale === undefined) return;
    scaling.dataset.lossScale = String(lossScale);
    scaling.dataset.skippedSteps = String(skippedSteps ?? 0);
    scaling.textContent = `f16: loss scale 2^${Math.round(Math.log2(lossScale))} (${lossScale}), ${skippedSteps ?? 0} steps skipped (their scaled gradients overflowed: weights unchanged, scale halved).`;
  };

  return { controls, figure, scaling, checkpoint, precision: precision.select, choices, refresh, showPrecision, showScaling };
}
