// The Fine-tune panel: a classification head on the current masked-language model (an encoder pre-trained in the
// Training panel), trained on a built-in labelled task, beside the same model trained from new weights on the same
// passages with the same seed and steps. Both validation-accuracy curves share one chart: the gap between them is
// what pre-training bought. Then "classify this text" shows the fine-tuned classifier's class probabilities. The
// work runs in the worker (the package's finetune()); the page only draws.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField, selectField } from '../ctx';
import { chartFigure, drawChart } from '../chart';
import { errorMessage } from '../format';
import type { ClassifyView, FinetuneProgressView, FinetuneRunName, FinetuneSummaryView } from '../finetune-protocol';

declare global {
  interface Window {
    /** The last fine-tuning the panel showed, and the last classification (for tests and the curious). */
    tpFinetune?: FinetuneSummaryView | null;
    tpClassify?: ClassifyView | null;
  }
}

const RUNS: Record<FinetuneRunName, [string, string, boolean]> = {
  pretrained: ['fine-tuned from the pre-trained encoder', '--train', false],
  scratch: ['the same model from new weights', '--val', true],
};

const percent = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');

export const finetunePanel: Panel = {
  id: 'finetune',
  title: 'Fine-tune',
  mount(section: HTMLElement, ctx: Ctx) {
    const noModel = h('p', { class: 'explain', id: 'ft-no-model' });
    const task = selectField('ft-task', 'Task', [['template', 'template']], 'template');
    const taskInfo = h('small', { class: 'hint', id: 'ft-task-info' });
    const steps = numberField('ft-steps', 'Steps', 100, { min: 1, max: 10000 });
    const examples = numberField('ft-examples', 'Labelled passages', 256, { min: 16, max: 4096, hint: 'the training set; 128 others validate' });
    const every = numberField('ft-every', 'Evaluate every', 10, { min: 1, max: 1000 });
    const start = h('button', { type: 'button', id: 'ft-start' }, 'Fine-tune');
    const stop = h('button', { type: 'button', id: 'ft-stop', disabled: true }, 'Stop');
    const bar = h('progress', { id: 'ft-progress', max: 1, value: 0, 'aria-label': 'fine-tuning progress' });
    const status = h('p', { class: 'hint', id: 'ft-status', role: 'status', 'aria-live': 'polite' });
    const chart = chartFigure(
      'ft-chart',
      'Validation accuracy of the classifier fine-tuned from the encoder and of the same model from new weights',
      (Object.values(RUNS) as [string, string, boolean][]).map(([name, color, dashed]) => [name, color, dashed]),
    );
    const results = h('dl', { id: 'ft-results', class: 'ft-results' });
    const text = h('textarea', { id: 'ft-text', rows: 3, spellcheck: 'false' });
    const classify = h('button', { type: 'button', id: 'ft-classify', disabled: true }, 'Classify');
    const classifyMessage = h('p', { class: 'message', id: 'ft-classify-message', role: 'status', 'aria-live': 'polite' });
    const probs = h('ol', { id: 'ft-probs', class: 'ft-probs', 'aria-label': 'class probabilities' });

    section.append(
      ...intro(
        'Fine-tune',
        'Pre-training teaches an encoder the words and grammar of its text with no labels at all (the masked-language ' +
          'objective). Fine-tuning puts a small classification head on it and trains the whole model on a few labelled ' +
          'examples. Here the task is to tell which of the four story templates a passage comes from; the same model ' +
          'also trains from new weights on the same passages, with the same seed and steps, so the two curves show what ' +
          'pre-training bought.',
        'p(class | passage) = softmax(W · mean over t of encoder(passage)ₜ + b)',
      ),
      noModel,
      h('div', { class: 'grid' }, h('div', {}, task.wrap, taskInfo), steps.wrap, examples.wrap, every.wrap),
      h('div', { class: 'row' }, start, stop, bar),
      status,
      chart.figure,
      results,
      h('h3', {}, 'Classify a text'),
      h('div', { class: 'field' }, h('label', { for: 'ft-text' }, 'Text (a passage of a story)'), text),
      h('div', { class: 'row' }, classify),
      classifyMessage,
      probs,
    );

    const series: Record<FinetuneRunName, [number, number][]> = { pretrained: [], scratch: [] };
    const draw = () =>
      drawChart(
        chart.canvas,
        'ft-chart',
        (Object.keys(RUNS) as FinetuneRunName[]).map((run) => ({ name: RUNS[run][0], color: RUNS[run][1], dashed: RUNS[run][2], points: series[run] })),
        { xLabel: 'step', yLabel: 'validation accuracy', zeroBased: true },
      );

    let running = false;
    let hasClassifier = false;
    const syncModel = () => {
      const info = ctx.store.modelInfo;
      const encoder = info !== null && info.config.objective === 'mlm';
      noModel.hidden = encoder;
      noModel.textContent =
        info === null
          ? 'No model yet: choose the masked-language objective in the Model panel and train an encoder in the Training panel (on the built-in stories), then fine-tune it here.'
          : 'The current model is causal (a decoder, trained on the next token): a classification head goes on an encoder. Choose the masked-language objective in the Model panel and train again.';
      start.disabled = running || !encoder;
      classify.disabled = running || !hasClassifier;
    };

    const showResults = (summary: FinetuneSummaryView) => {
      const row = (id: string, term: string, value: string) => [h('dt', {}, term), h('dd', { id }, value)];
      replace(
        results,
        ...row('ft-acc-pretrained', `Fine-tuned from the encoder, after ${summary.steps} steps`, `${percent(summary.pretrained.accuracy)} (${(summary.pretrained.elapsedMs / 1000).toFixed(1)} s)`),
        ...row('ft-acc-scratch', 'From new weights, same passages and steps', `${percent(summary.scratch.accuracy)} (${(summary.scratch.elapsedMs / 1000).toFixed(1)} s)`),
        ...row('ft-acc-chance', `Chance (${summary.classes.length} classes)`, percent(summary.chance)),
      );
    };

    start.addEventListener('click', async () => {
      const n = (input: HTMLInputElement) => Number(input.value);
      const [total, count, interval] = [n(steps.input), n(examples.input), n(every.input)];
      if (![total, count, interval].every((x) => Number.isInteger(x) && x >= 1)) {
        status.textContent = 'Steps, labelled passages and the evaluation interval must be whole numbers of at least 1.';
        return;
      }
      series.pretrained = [];
      series.scratch = [];
      draw();
      replace(results);
      window.tpFinetune = null;
      running = true;
      syncModel();
      stop.disabled = false;
      bar.max = 2 * total;
      bar.value = 0;
      status.textContent = 'Fine-tuning…';
      const done: Record<FinetuneRunName, number> = { pretrained: 0, scratch: 0 };
      try {
        const summary = await ctx.core.callWithProgress(
          'finetune',
          (value) => {
            const p = value as FinetuneProgressView;
            if (p.kind === 'step') {
              done[p.run] = p.done;
              bar.value = done.pretrained + done.scratch;
              status.textContent = `Step ${Math.min(done.pretrained, done.scratch) || p.done} of ${p.total}, both runs in turn`;
            } else {
              series[p.run].push([p.step, p.valAccuracy]);
              draw();
            }
          },
          { task: task.select.value, steps: total, evalInterval: interval, trainExamples: count, seed: 1337 },
        );
        window.tpFinetune = summary;
        if (summary.stopped) {
          status.textContent = 'Stopped: nothing was kept. Fine-tune again to finish.';
          return;
        }
        series.pretrained = summary.pretrained.points;
        series.scratch = summary.scratch.points;
        draw();
        showResults(summary);
        hasClassifier = true;
        const gap = summary.pretrained.accuracy - summary.scratch.accuracy;
        status.textContent =
          `Done: validation accuracy ${percent(summary.pretrained.accuracy)} fine-tuned from the encoder, ${percent(summary.scratch.accuracy)} from new weights` +
          (gap > 0 ? ': pre-training helped.' : gap < 0 ? ': pre-training did not help this time (train the encoder longer?).' : '.');
        if (!text.value) text.value = 'Mira looks under the bed. She finds the red ball.';
      } catch (error) {
        status.textContent = errorMessage(error);
      } finally {
        running = false;
        stop.disabled = true;
        syncModel();
      }
    });
    stop.addEventListener('click', () => void ctx.core.call('stopFinetune'));

    const runClassify = async () => {
      classifyMessage.textContent = '';
      delete classifyMessage.dataset.kind;
      window.tpClassify = null;
      classify.disabled = true;
      try {
        const result = await ctx.core.call('classifyText', text.value);
        window.tpClassify = result;
        replace(
          probs,
          ...result.probs.map((p) => {
            const fill = h('span', { class: 'wbar' });
            fill.style.width = `${Math.round(p.prob * 100)}%`;
            return h('li', { 'data-label': p.label, class: p.label === result.label ? 'best' : undefined }, h('code', {}, p.label), ` ${percent(p.prob)}`, fill);
          }),
        );
        classifyMessage.textContent =
          `Most likely: ${result.label}.` + (result.truncated ? ` The classifier read the first ${result.tokens} tokens, as in training.` : '');
      } catch (error) {
        replace(probs);
        classifyMessage.textContent = errorMessage(error);
        classifyMessage.dataset.kind = 'error';
      } finally {
        syncModel();
      }
    };
    classify.addEventListener('click', () => void runClassify());
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !classify.disabled) void runClassify();
    });

    void ctx.core
      .call('finetuneTasks')
      .then((tasks) => {
        replace(task.select, ...tasks.map((t) => h('option', { value: t.name }, t.name)));
        const describe = () => {
          const info = tasks.find((t) => t.name === task.select.value);
          taskInfo.textContent = info ? `${info.description}; classes: ${info.classes.join(', ')}` : '';
        };
        task.select.addEventListener('change', describe);
        describe();
      })
      .catch((error: unknown) => {
        taskInfo.textContent = errorMessage(error);
      });
    ctx.store.on('modelInfo', syncModel);
    section.addEventListener('panel-shown', () => {
      syncModel();
      draw();
    });
    syncModel();
  },
};
