// The Generate panel: the sampling settings (checked as you type) and what they do to a next-token
// distribution, shown on example scores until the core has a model to generate with.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField } from '../ctx';
import { samplingView, type SamplingSettings, type SamplingView } from '../sampling';
import { errorMessage } from '../format';
import type { GenerateProgress, GenerateResult, GeneratedToken } from '../protocol';
import { attachTooltip } from '../tooltip';

declare global {
  interface Window {
    tpSampling?: { tokens: string[]; logits: number[]; settings: SamplingSettings } & SamplingView;
    tpGenerated?: GenerateResult;
  }
}

/** Example scores for the token after "The cat sat on the", to show what the settings do. */
const EXAMPLE: [string, number][] = [
  ['␣mat', 3.2],
  ['␣floor', 2.5],
  ['␣sofa', 2.1],
  ['␣hat', 1.4],
  ['␣roof', 1.0],
  ['␣moon', 0.2],
  ['␣dog', -0.5],
  ['␣river', -1.2],
];

export function checkSampling(s: SamplingSettings & { maxTokens: number; seed: number }): string | null {
  if (!(s.temperature >= 0 && s.temperature <= 5)) return 'temperature must be from 0 (always the likeliest token) to 5.';
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) return 'top-k must be a whole number, 0 for off.';
  if (!(s.topP > 0 && s.topP <= 1)) return 'top-p must be above 0 and at most 1 (1 is off).';
  if (!(Number.isInteger(s.maxTokens) && s.maxTokens >= 1 && s.maxTokens <= 10000)) return 'max tokens must be a whole number from 1 to 10000.';
  if (!(Number.isInteger(s.seed) && s.seed >= 0)) return 'the seed must be a whole number, 0 or more.';
  return null;
}

function bars(view: SamplingView): HTMLElement {
  const rows = EXAMPLE.map(([token], i) => {
    const bar = h('span', { class: 'pbar' });
    bar.style.width = `${(view.final[i] * 100).toFixed(1)}%`;
    const before = h('span', { class: 'pbar before' });
    before.style.width = `${(view.probs[i] * 100).toFixed(1)}%`;
    return h(
      'tr',
      { class: view.kept[i] ? '' : 'filtered', 'data-token': token },
      h('th', { scope: 'row' }, h('code', {}, token)),
      h('td', { class: 'num' }, EXAMPLE[i][1].toFixed(1)),
      h('td', { class: 'num', 'data-col': 'prob' }, view.probs[i].toFixed(3)),
      h('td', { class: 'num', 'data-col': 'final' }, view.kept[i] ? view.final[i].toFixed(3) : 'filtered'),
      h('td', { class: 'barcell' }, before, bar),
    );
  });
  return h(
    'table',
    { class: 'steps', id: 'sampling-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'next token'), h('th', { scope: 'col' }, 'logit'), h('th', { scope: 'col' }, 'softmax(logit / T)'), h('th', { scope: 'col' }, 'after top-k, top-p'), h('th', { scope: 'col' }, 'probability'))),
    h('tbody', {}, ...rows),
  );
}

export const generatePanel: Panel = {
  id: 'generate',
  title: 'Generate',
  mount(section: HTMLElement, ctx: Ctx) {
    const prompt = h('textarea', { id: 'g-prompt', rows: 2 }, 'Once upon a time');
    prompt.value = 'Once upon a time';
    const f = {
      temperature: numberField('g-temp', 'Temperature', 0.8, { min: 0, max: 5, step: 0.1 }),
      topK: numberField('g-topk', 'Top-k', 0, { min: 0, hint: '0 = off' }),
      topP: numberField('g-topp', 'Top-p', 0.9, { min: 0, max: 1, step: 0.05, hint: '1 = off' }),
      maxTokens: numberField('g-max', 'Max tokens', 200, { min: 1, max: 10000 }),
      seed: numberField('g-seed', 'Seed', 1, { min: 0 }),
    };
    const status = h('p', { id: 'gen-status', class: 'message', role: 'status', 'aria-live': 'polite' });
    const go = h('button', { type: 'button', id: 'generate' }, 'Generate');
    const stop = h('button', { type: 'button', id: 'generate-stop', class: 'ghost', disabled: true }, 'Stop');
    const output = h('p', { class: 'tokens generated', id: 'gen-output', 'aria-live': 'polite' });
    const stats = h('p', { class: 'hint', id: 'gen-stats' });
    const example = h('div', { id: 'sampling-example' });
    section.append(
      ...intro(
        'Generate',
        'The model gives a score (logit) to every token of the vocabulary for what comes next. Generation turns the ' +
          'scores into probabilities, picks one token, appends it and asks again. Temperature flattens (above 1) or ' +
          'sharpens (below 1) the probabilities; 0 always takes the likeliest. Top-k keeps only the k likeliest tokens; ' +
          'top-p keeps the fewest tokens whose probabilities add up to p.',
        'p = softmax(logits / T)    keep top-k, then the smallest set with Σ p ≥ top-p    renormalise and draw',
      ),
      h('label', { for: 'g-prompt' }, 'Prompt'),
      prompt,
      h('form', { class: 'grid-form', id: 'gen-form' }, ...Object.values(f).map((x) => x.wrap)),
      status,
      h('div', { class: 'row' }, go, stop),
      output,
      stats,
      h('h3', {}, 'What these settings do to the next token'),
      h('p', { class: 'explain' }, 'Example scores for the token after “The cat sat on the” (made up, not from a model). Change the settings above and watch the distribution the token is drawn from.'),
      example,
    );
    const readSettings = () =>
      Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Number(x.input.value)])) as unknown as SamplingSettings & { maxTokens: number; seed: number };
    const tokenSpan = (token: GeneratedToken, index: number) => {
      const span = h('span', { class: `tok c${index % 6}`, tabindex: index === 0 ? 0 : -1, 'data-id': token.id }, token.text);
      attachTooltip(span, () =>
        token.alternatives.length === 0
          ? [`id ${token.id} · ${token.ms.toFixed(1)} ms`]
          : [
              h('strong', {}, `id ${token.id} · ${token.ms.toFixed(1)} ms`),
              ...token.alternatives.flatMap((a) => [h('br'), `${a.text}  ${(a.prob * 100).toFixed(1)}%`]),
            ],
      );
      return span;
    };
    go.addEventListener('click', async () => {
      const s = readSettings();
      const error = checkSampling(s);
      if (error) return;
      go.disabled = true;
      stop.disabled = false;
      replace(output, h('span', { class: 'prompt' }, prompt.value));
      // A screen reader reads the text once it is complete, not token by token.
      output.setAttribute('aria-busy', 'true');
      stats.textContent = 'Generating…';
      const streamed: GeneratedToken[] = [];
      try {
        const result = await ctx.core.callWithProgress(
          'generate',
          (value) => {
            const batch = value as GenerateProgress[];
            for (const p of batch) streamed.push(p.token);
            // One change to the page per batch (about one a frame), so drawing stays cheap beside the worker.
            output.append(...batch.map((p) => tokenSpan(p.token, p.index)));
            stats.textContent = `${streamed.length} tokens…`;
          },
          prompt.value,
          { temperature: s.temperature, topK: s.topK, topP: s.topP, maxTokens: s.maxTokens, seed: s.seed },
        );
        window.tpGenerated = result;
        stats.textContent =
          `${result.tokens.length} tokens after a ${result.promptTokens}-token prompt · first token after ${result.firstTokenMs.toFixed(1)} ms (latency) · ` +
          `${result.tokensPerSec.toFixed(0)} tokens/s (throughput, with the KV cache). Hover or focus a token for the alternatives the model weighed.`;
      } catch (err) {
        stats.textContent = `Generation stopped: ${errorMessage(err)}`;
      } finally {
        output.setAttribute('aria-busy', 'false');
        go.disabled = false;
        stop.disabled = true;
      }
    });
    stop.addEventListener('click', () => void ctx.core.call('stopGeneration'));
    output.addEventListener('keydown', (event) => {
      const spans = [...output.querySelectorAll<HTMLElement>('.tok')];
      const at = spans.indexOf(document.activeElement as HTMLElement);
      const next = { ArrowRight: at + 1, ArrowLeft: at - 1 }[event.key];
      if (at < 0 || next === undefined || next < 0 || next >= spans.length) return;
      event.preventDefault();
      spans[at].tabIndex = -1;
      spans[next].tabIndex = 0;
      spans[next].focus();
    });
    const update = () => {
      const s = Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Number(x.input.value)])) as unknown as SamplingSettings & { maxTokens: number; seed: number };
      const error = checkSampling(s);
      if (error) {
        status.textContent = `Cannot generate with these settings: ${error}`;
        status.dataset.kind = 'error';
        go.disabled = true;
        return;
      }
      status.textContent = '';
      delete status.dataset.kind;
      go.disabled = false;
      const logits = EXAMPLE.map(([, l]) => l);
      const view = samplingView(logits, s);
      window.tpSampling = { tokens: EXAMPLE.map(([t]) => t), logits, settings: { temperature: s.temperature, topK: s.topK, topP: s.topP }, ...view };
      replace(example, h('div', { class: 'scroll' }, bars(view)));
    };
    section.querySelector('form')!.addEventListener('input', update);
    section.querySelector('form')!.addEventListener('submit', (event) => event.preventDefault());
    update();
  },
};
