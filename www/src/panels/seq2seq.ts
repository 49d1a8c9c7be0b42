// The Seq2seq panel: an encoder-decoder (the third family: an encoder reads the source both ways, a decoder writes
// the target one token at a time and looks back at the source through cross-attention) trained here on a built-in
// task. The metrics of greedy decoding on validation pairs (exact match, BLEU, chrF, ROUGE) are drawn as curves
// over training and the latest predictions listed with their scores; a source and a target side by side show the
// cross-attention (target position x source position) per layer and head next to both stacks' self-attention.
// It trains on the CPU (WebAssembly) whatever the page's backend: the encoder-decoder has no WebGPU driver here yet.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField, selectField } from '../ctx';
import { chartFigure, drawChart } from '../chart';
import { heatmapFigure } from '../heatmap';
import { errorMessage } from '../format';
import type { Seq2SeqEval } from '../../../js/src/index';
import type { Seq2SeqAttentionView, Seq2SeqInfo, Seq2SeqProgressView } from '../seq2seq-protocol';

declare global {
  interface Window {
    /** The panel's state, for tests and the curious. */
    tpSeq2seq?: {
      state: 'idle' | 'training' | 'done' | 'paused' | 'error';
      losses: [number, number][];
      evals: Seq2SeqEval[];
      info: Seq2SeqInfo | null;
      attention: Seq2SeqAttentionView | null;
      output: string | null;
    };
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export const seq2seqPanel: Panel = {
  id: 'seq2seq',
  title: 'Seq2seq',
  mount(section: HTMLElement, ctx: Ctx) {
    const state: NonNullable<Window['tpSeq2seq']> = { state: 'idle', losses: [], evals: [], info: null, attention: null, output: null };
    window.tpSeq2seq = state;

    const task = selectField('s2s-task', 'Task', [['reverse', 'reverse']], 'reverse');
    const taskHint = h('small', { class: 'hint', id: 's2s-task-hint' });
    task.wrap.append(taskHint);
    task.select.setAttribute('aria-describedby', 's2s-task-hint');
    const layers = numberField('s2s-layers', 'Blocks per stack', 2, { min: 1, max: 6 });
    const heads = numberField('s2s-heads', 'Heads', 4, { min: 1, max: 8 });
    const width = numberField('s2s-embd', 'Width C', 64, { min: 8, max: 256, step: 8 });
    const steps = numberField('s2s-steps', 'Steps', 600, { min: 1, max: 100000 });
    const batch = numberField('s2s-batch', 'Pairs per batch', 32, { min: 1, max: 256 });
    const lr = numberField('s2s-lr', 'Learning rate', 0.002, { min: 0, step: 'any' });
    const every = numberField('s2s-eval', 'Evaluate every', 50, { min: 1, max: 10000, hint: 'steps: greedy decoding of 32 validation pairs' });
    const seed = numberField('s2s-seed', 'Seed', 1, { min: 0 });
    const start = h('button', { type: 'button', id: 's2s-train' }, 'Train a new model');
    const resume = h('button', { type: 'button', id: 's2s-resume', disabled: true }, 'Continue');
    const pause = h('button', { type: 'button', id: 's2s-pause', class: 'ghost', disabled: true }, 'Pause');
    const status = h('p', { id: 's2s-status', class: 'message', role: 'status', 'aria-live': 'polite' });
    const cpuNote = h('p', { class: 'notice', id: 's2s-cpu-note', hidden: true }, 'The page runs on WebGPU, but the encoder-decoder trains on the CPU (WebAssembly) for now: its WebGPU driver is not in the page yet.');

    const lossChart = chartFigure('s2s-loss-chart', 'Teacher-forced loss: training steps and the validation pairs.', [['train loss', '--train'], ['validation loss', '--val', true]]);
    const metricChart = chartFigure('s2s-metric-chart', 'Greedy decoding of the validation pairs: exact match, chrF and BLEU (÷100), ROUGE-1/2/L.', [
      ['exact match', '--pass'],
      ['chrF', '--accent'],
      ['BLEU', '--val', true],
      ['ROUGE-L', '--train', true],
    ]);
    const latest = h('p', { id: 's2s-latest', class: 'explain' });
    const predictions = h('div', { id: 's2s-predictions', class: 's2s-table' });

    const source = h('input', { id: 's2s-source', type: 'text', spellcheck: 'false', autocomplete: 'off' });
    const target = h('input', { id: 's2s-target', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'empty: the model’s own output' });
    const beam = numberField('s2s-beam', 'Beam width', 1, { min: 1, max: 16, hint: '1 = greedy' });
    const penalty = numberField('s2s-penalty', 'Length penalty', 0, { step: 'any' });
    const translate = h('button', { type: 'button', id: 's2s-translate', disabled: true }, 'Translate');
    const show = h('button', { type: 'button', id: 's2s-show', disabled: true }, 'Show attention');
    const output = h('output', { id: 's2s-output', for: 's2s-source' });
    const message = h('p', { id: 's2s-message', class: 'message', role: 'status', 'aria-live': 'polite' });
    const maps = h('div', { id: 's2s-maps' });

    section.append(
      ...intro(
        'Sequence to sequence',
        'An encoder-decoder reads a whole source with its encoder (attention both ways), then writes the target one ' +
          'character at a time with its decoder: causal self-attention over what it wrote so far, and cross-attention ' +
          'over the encoder’s output. Training feeds it the right target (teacher forcing); evaluation lets it write on ' +
          'its own (greedy decoding) and scores what it wrote against the reference.',
        'cross-attention(Q from the decoder, K, V from the encoder) = softmax(Q Kᵀ / √d) V  — a (target × source) map',
      ),
      cpuNote,
      h('div', { class: 'row' }, task.wrap),
      h('div', { class: 'row' }, layers.wrap, heads.wrap, width.wrap),
      h('div', { class: 'row' }, steps.wrap, batch.wrap, lr.wrap, every.wrap, seed.wrap),
      h('div', { class: 'row' }, start, resume, pause),
      status,
      h('div', { class: 'charts' }, lossChart.figure, metricChart.figure),
      latest,
      h('h3', {}, 'Predictions on validation pairs'),
      predictions,
      h('h3', {}, 'Source and target'),
      h(
        'div',
        { class: 'row s2s-pair' },
        h('div', { class: 'field' }, h('label', { for: 's2s-source' }, 'Source (the encoder reads)'), source),
        h('div', { class: 'field' }, h('label', { for: 's2s-target' }, 'Target (the decoder writes)'), target),
      ),
      h('div', { class: 'row' }, beam.wrap, penalty.wrap, translate, show),
      h('p', {}, 'Output: ', output),
      message,
      maps,
    );

    const tasks = new Map<string, string>();
    ctx.core
      .call('s2sTasks')
      .then((list) => {
        replace(task.select, ...list.map((t) => h('option', { value: t.name, selected: t.name === 'reverse' }, t.name)));
        for (const t of list) tasks.set(t.name, t.description);
        taskHint.textContent = tasks.get(task.select.value) ?? '';
      })
      .catch((error: unknown) => {
        // A core built without the encoder-decoder: say so, and leave nothing to press.
        fail(status, error);
        start.disabled = true;
      });
    task.select.addEventListener('change', () => (taskHint.textContent = tasks.get(task.select.value) ?? ''));
    const noteBackend = () => (cpuNote.hidden = ctx.store.backend !== 'webgpu');
    section.addEventListener('panel-shown', noteBackend);
    noteBackend();

    const fail = (where: HTMLElement, error: unknown) => {
      where.textContent = errorMessage(error);
      where.dataset.kind = 'error';
    };

    const redraw = () => {
      const evals = state.evals;
      drawChart(lossChart.canvas, 's2s-loss', [
        { name: 'train loss', color: '--train', points: state.losses },
        { name: 'validation loss', color: '--val', points: evals.map((e) => [e.step, e.valLoss]), dashed: true },
      ], { xLabel: 'step', yLabel: 'loss' });
      drawChart(metricChart.canvas, 's2s-metrics', [
        { name: 'exact match', color: '--pass', points: evals.map((e) => [e.step, e.exactMatch]) },
        { name: 'chrF', color: '--accent', points: evals.map((e) => [e.step, e.chrf / 100]) },
        { name: 'BLEU', color: '--val', points: evals.map((e) => [e.step, e.bleu / 100]), dashed: true },
        { name: 'ROUGE-L', color: '--train', points: evals.map((e) => [e.step, e.rougeL]), dashed: true },
      ], { xLabel: 'step', yLabel: 'score', zeroBased: true });
    };

    const showEval = (e: Seq2SeqEval) => {
      latest.textContent =
        `Step ${e.step} on ${e.pairs} validation pairs: exact match ${pct(e.exactMatch)}, chrF ${e.chrf.toFixed(1)}, ` +
        `BLEU ${e.bleu.toFixed(1)}, ROUGE-1 ${e.rouge1.toFixed(3)}, ROUGE-2 ${e.rouge2.toFixed(3)}, ROUGE-L ${e.rougeL.toFixed(3)}, validation loss ${e.valLoss.toFixed(3)}.`;
      const rows = e.predictions.map((p, i) => {
        const pick = h('button', { type: 'button', class: 'ghost', 'data-row': i, title: 'Look at this pair’s attention' }, 'attention');
        pick.addEventListener('click', () => {
          source.value = p.source;
          target.value = p.prediction;
          void showAttention();
        });
        return h(
          'tr',
          { class: p.exact ? 'exact' : 'wrong' },
          h('td', {}, h('code', {}, p.source)),
          h('td', {}, h('code', {}, p.target)),
          h('td', {}, h('code', {}, p.prediction)),
          h('td', {}, p.exact ? '✓' : '✗'),
          h('td', {}, p.chrf.toFixed(1)),
          h('td', {}, p.rougeL.toFixed(2)),
          h('td', {}, pick),
        );
      });
      replace(
        predictions,
        h(
          'table',
          { class: 'predictions' },
          h('caption', {}, `Greedy outputs at step ${e.step}, with each pair’s own scores`),
          h('thead', {}, h('tr', {}, ...['source', 'reference', 'prediction', 'exact', 'chrF', 'ROUGE-L', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...rows),
        ),
      );
    };

    const setRunning = (running: boolean) => {
      start.disabled = running;
      resume.disabled = running || !state.info || state.info.steps >= Number(steps.input.value);
      pause.disabled = !running;
      translate.disabled = running || !state.info;
      show.disabled = running || !state.info;
    };

    const run = async (again: boolean) => {
      if (!again) {
        state.losses = [];
        state.evals = [];
        replace(predictions);
        replace(maps);
        latest.textContent = '';
      }
      state.state = 'training';
      status.dataset.kind = '';
      status.textContent = again ? 'continuing…' : 'creating the encoder-decoder and its pairs…';
      setRunning(true);
      redraw();
      try {
        const summary = await ctx.core.callWithProgress(
          's2sTrain',
          (value) => {
            const p = value as Seq2SeqProgressView;
            if (p.kind === 'step') {
              state.losses.push([p.step, p.loss]);
              status.textContent = `step ${p.step} of ${steps.input.value}: loss ${p.loss.toFixed(3)} (${(p.elapsedMs / 1000).toFixed(1)} s)`;
            } else {
              state.evals.push(p.eval);
              showEval(p.eval);
            }
            redraw();
          },
          {
            task: task.select.value,
            config: { nLayer: Number(layers.input.value), nHead: Number(heads.input.value), nEmbd: Number(width.input.value) },
            lengths: null,
            steps: Number(steps.input.value),
            batchSize: Number(batch.input.value),
            lr: Number(lr.input.value),
            evalInterval: Number(every.input.value),
            seed: Number(seed.input.value),
            resume: again,
          },
        );
        state.info = await ctx.core.call('s2sInfo');
        state.state = summary.stopped === 'paused' ? 'paused' : 'done';
        status.textContent =
          summary.stopped === 'paused'
            ? `paused at step ${summary.steps}: Continue picks up where it stopped`
            : `trained ${summary.steps} steps: ${state.info?.paramCount.toLocaleString('en')} parameters, on the CPU`;
        if (state.info && !source.value) source.value = state.info.examples[0]?.source ?? '';
      } catch (error) {
        state.state = 'error';
        state.info = await ctx.core.call('s2sInfo').catch(() => null);
        fail(status, error);
      } finally {
        setRunning(false);
      }
    };
    start.addEventListener('click', () => void run(false));
    resume.addEventListener('click', () => void run(true));
    pause.addEventListener('click', () => void ctx.core.call('s2sPause'));

    const busy = async (f: () => Promise<void>) => {
      translate.disabled = show.disabled = true;
      message.textContent = '';
      message.dataset.kind = '';
      try {
        await f();
      } catch (error) {
        fail(message, error);
      } finally {
        translate.disabled = show.disabled = !state.info || state.state === 'training';
      }
    };

    translate.addEventListener('click', () =>
      busy(async () => {
        const text = await ctx.core.call('s2sTranslate', source.value, Number(beam.input.value), Number(penalty.input.value));
        state.output = text;
        output.textContent = text;
        target.value = text;
        await drawMaps(source.value, text);
      }),
    );
    const showAttention = () => busy(() => drawMaps(source.value, target.value === '' ? null : target.value));
    show.addEventListener('click', () => void showAttention());
    for (const input of [source, target]) {
      input.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          if (!show.disabled) void showAttention();
        }
      });
    }

    async function drawMaps(src: string, tgt: string | null): Promise<void> {
      const a = await ctx.core.call('s2sAttention', src, tgt);
      state.attention = a;
      if (tgt === null) target.value = a.target;
      const { nLayer, nHead, sourceColumns: sc, sourceLength: sl, targetLength: tt } = a;
      const thumb = (values: Float32Array, offset: number, rows: number, cols: number, id: string, caption: string, rowLabels: string[], colLabels: string[], x: string, y: string) =>
        heatmapFigure(values.subarray(offset, offset + rows * cols), rows, cols, {
          id,
          caption,
          xLabel: x,
          yLabel: y,
          scale: 'sequential',
          range: [0, 1],
          valueLabel: 'weight',
          className: 'thumb',
          enlarge: true,
          rowLabels,
          colLabels,
          tickLabels: 'enlarged',
        });
      const rows: HTMLElement[] = [];
      for (let l = 0; l < nLayer; l++) {
        for (const [kind, title] of [['cross', 'cross-attention'], ['dec', 'decoder self-attention'], ['enc', 'encoder self-attention']] as const) {
          rows.push(
            h(
              'div',
              { class: 'att-row', id: `s2s-${kind}-l${l}` },
              h('span', { class: 'att-row-label' }, `${title}, layer ${l}`),
              ...Array.from({ length: nHead }, (_, hd) => {
                const m = l * nHead + hd;
                const id = `s2s-${kind}-l${l}-h${hd}`;
                const caption = `${title}, layer ${l}, head ${hd}`;
                if (kind === 'cross') return thumb(a.cross, m * tt * sc, tt, sc, id, caption, a.outputTokens, a.sourceTokens, 'source', 'target');
                if (kind === 'dec') return thumb(a.decoder, m * tt * tt, tt, tt, id, caption, a.decoderTokens, a.decoderTokens, 'key', 'query');
                return thumb(a.encoder, m * sl * sc, sl, sc, id, caption, a.sourceTokens.slice(0, sl), a.sourceTokens, 'key', 'query');
              }),
            ),
          );
        }
      }
      replace(
        maps,
        h('h3', {}, 'Attention'),
        h(
          'p',
          { class: 'explain' },
          'Cross-attention: each row is the target character being written, each column a source character; on reverse the ' +
            'bright cells run along the anti-diagonal. <pad> sums the weight on the padding the encoder reads. Click a map (or Enter) to enlarge it.',
        ),
        ...rows,
      );
    }
  },
};
