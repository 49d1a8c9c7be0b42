// The Generate panel: the sampling settings (checked as you type) and what they do to a next-token
// distribution on example scores; with a trained model, the tokens as they are made (chips with their
// probabilities, or plain text to copy), with time to first token and tokens/s as a person sees them.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro, numberField } from '../ctx';
import { samplingView, type SamplingSettings, type SamplingView } from '../sampling';
import { errorMessage } from '../format';
import type { GenerateProgress, GenerateResult, GeneratedToken } from '../protocol';
import { hideTooltip, showTooltip } from '../tooltip';

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

/** Where the tokens were made, in words. */
const WHERE = { cpu: 'on the CPU (WebAssembly)', webgpu: 'on WebGPU (the GPU copy of the weights)' } as const;

/** The tokens of a run as they arrive, flat (as the worker sends them), and the texts of their ids. */
class Run {
  ids: number[] = [];
  ms: number[] = [];
  probs: number[] = [];
  k = 0;
  alternativeIds: number[] = [];
  alternativeProbs: number[] = [];
  labels = new Map<number, string>();

  add(batch: GenerateProgress): void {
    for (const [id, text] of batch.labels) this.labels.set(id, text);
    this.k = batch.k;
    for (let i = 0; i < batch.ids.length; i++) {
      this.ids.push(batch.ids[i]!);
      this.ms.push(batch.ms[i]!);
      this.probs.push(batch.probs[i]!);
    }
    for (let i = 0; i < batch.alternativeIds.length; i++) {
      this.alternativeIds.push(batch.alternativeIds[i]!);
      this.alternativeProbs.push(batch.alternativeProbs[i]!);
    }
  }

  text(id: number): string {
    return this.labels.get(id) ?? String(id);
  }

  token(i: number): GeneratedToken {
    const id = this.ids[i]!;
    const alternatives = [];
    for (let j = i * this.k; j < (i + 1) * this.k; j++) alternatives.push({ text: this.text(this.alternativeIds[j]!), prob: this.alternativeProbs[j]! });
    return { id, text: this.text(id), ms: this.ms[i]!, prob: this.probs[i]!, alternatives };
  }
}

/** The streamed tokens are drawn at most this often (a text growing 10 times a second still reads as a stream;
 *  each draw styles and lays out the whole text again). */
const DRAW_EVERY_MS = 100;
/** How long the panel waits for the first token before it says "Generating…" without it. */
const SHOW_RUNNING_MS = 50;

/** A chip's classes: its colour cycles through six. */
const CHIP_CLASSES = [0, 1, 2, 3, 4, 5].map((c) => `tok c${c}`);

const percent = (p: number) => `${(p * 100).toFixed(p < 0.001 ? 3 : 1)}%`;

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
    // Without a model the panel says so where the button is, with the way to get one.
    const needModel = h('div', { class: 'notice gen-need', id: 'gen-need-model', role: 'status', hidden: true });
    const go = h('button', { type: 'button', id: 'generate' }, 'Generate');
    const stop = h('button', { type: 'button', id: 'generate-stop', class: 'ghost', disabled: true }, 'Stop');
    const output = h('p', { class: 'tokens generated', id: 'gen-output', 'aria-live': 'polite' });
    const plain = h('pre', { class: 'generated plain', id: 'gen-text', hidden: true });
    const showTokens = h('button', { type: 'button', class: 'ghost', id: 'gen-view-tokens', 'aria-pressed': 'true' }, 'Tokens');
    const showText = h('button', { type: 'button', class: 'ghost', id: 'gen-view-text', 'aria-pressed': 'false' }, 'Plain text');
    const copy = h('button', { type: 'button', class: 'ghost', id: 'gen-copy' }, 'Copy text');
    const copied = h('span', { class: 'hint', id: 'gen-copied', role: 'status' });
    const views = h('div', { class: 'row gen-views', id: 'gen-views', hidden: true, role: 'group', 'aria-label': 'Generated text' }, showTokens, showText, copy, copied);
    const stats = h('p', { class: 'gen-stats', id: 'gen-stats', 'data-state': 'idle' });
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
      needModel,
      h('div', { class: 'row' }, go, stop),
      stats,
      views,
      output,
      plain,
      h('h3', {}, 'What these settings do to the next token'),
      h('p', { class: 'explain' }, 'Example scores for the token after “The cat sat on the” (made up, not from a model). Change the settings above and watch the distribution the token is drawn from.'),
      example,
    );
    const readSettings = () =>
      Object.fromEntries(Object.entries(f).map(([k, x]) => [k, Number(x.input.value)])) as unknown as SamplingSettings & { maxTokens: number; seed: number };

    let run = new Run();
    let running = false;
    // Generate needs a model (and an idle one): otherwise the button waits and the notice says what to do.
    const blocker = (): (HTMLElement | string)[] | null => {
      if (!ctx.store.modelInfo) {
        return [
          h('strong', {}, 'No model to generate with yet. '),
          'Generate continues your prompt with a trained model: train one in the Training panel (Start trains the default model on the chosen text), or load a saved one in Save & load. ',
          h('a', { href: '#training', class: 'button-like', id: 'gen-go-train' }, 'Go to Training'),
        ];
      }
      if (ctx.store.training) return [h('strong', {}, 'Training is running. '), 'Generation starts when it ends: pause it in the Training panel to generate from the weights so far.'];
      return null;
    };
    const refresh = () => {
      const blocked = blocker();
      needModel.hidden = blocked === null;
      if (blocked) replace(needModel, ...blocked);
      const error = checkSampling(readSettings());
      go.disabled = running || blocked !== null || error !== null;
    };
    ctx.store.on('modelInfo', refresh);
    ctx.store.on('training', refresh);

    // One tooltip for every token (delegated): its own probability and time, then the alternatives.
    const tokenAt = (target: EventTarget | null): [HTMLElement, number] | null => {
      const span = target instanceof HTMLElement ? target.closest<HTMLElement>('.tok') : null;
      // (Until the first token of a new run, the box still shows the last run's, whose numbers are gone.)
      return span && output.contains(span) && !stale ? [span, Number(span.dataset.i)] : null;
    };
    const showTip = (event: Event) => {
      const hit = tokenAt(event.target);
      if (!hit) return;
      const t = run.token(hit[1]);
      showTooltip(hit[0], [
        h('strong', {}, `${t.text}  ${percent(t.prob)}`),
        ` · id ${t.id} · ${t.ms.toFixed(2)} ms`,
        h('br'),
        'the likeliest tokens here:',
        ...t.alternatives.flatMap((a) => [h('br'), `${a.text === t.text ? '▸ ' : '  '}${a.text}  ${percent(a.prob)}`]),
      ]);
    };
    const hideTip = (event: Event) => {
      const hit = tokenAt(event.target);
      if (hit) hideTooltip(hit[0]);
    };
    output.addEventListener('mouseover', showTip);
    output.addEventListener('focusin', showTip);
    output.addEventListener('mouseout', hideTip);
    output.addEventListener('focusout', hideTip);

    // Tokens are appended (never redrawn). Their chips are made as each batch arrives, while the worker makes the
    // next one (so the end of a run only appends the last batch's), and go into the page in an animation frame at
    // most every DRAW_EVERY_MS, the first one at once. Each draw styles and lays out the growing text on the page's
    // thread, which shares the CPU with the worker making the tokens: drawing every frame cost the worker a third of
    // its speed.
    let pending = document.createDocumentFragment();
    // The box keeps the last run's text until the new run's first token replaces it with the prompt and that token:
    // one change to the box, drawn in one frame, instead of emptying it at the click and filling it a moment later
    // (two frames that lay out, paint and raster the box while the worker makes the first tokens).
    let [stale, shownPrompt] = [false, ''];
    const showRun = () => {
      if (!stale) return;
      stale = false;
      replace(output, h('span', { class: 'prompt' }, shownPrompt));
      following = true;
    };
    // Whether the text box shows its end (a reader who scrolled back to read is not pulled down).
    let following = true;
    output.addEventListener('scroll', () => (following = output.scrollTop + output.clientHeight >= output.scrollHeight - 8), { passive: true });
    let [frame, timer, lastDraw, made, drawn] = [0, 0, 0, 0, 0];
    const chips = (ids: Uint32Array) => {
      for (const id of ids) {
        const span = document.createElement('span');
        span.className = CHIP_CLASSES[made % CHIP_CLASSES.length]!;
        span.dataset.i = String(made);
        span.tabIndex = made === 0 ? 0 : -1;
        span.textContent = run.text(id);
        pending.append(span);
        made++;
      }
    };
    const schedule = () => {
      if (frame !== 0 || timer !== 0) return;
      const wait = lastDraw + DRAW_EVERY_MS - performance.now();
      const later = () => {
        timer = 0;
        frame = requestAnimationFrame(drawInFrame);
      };
      if (wait > 0) timer = window.setTimeout(later, wait);
      else later();
    };
    const cancelDraw = () => {
      cancelAnimationFrame(frame);
      clearTimeout(timer);
      [frame, timer] = [0, 0];
    };
    // Appends the chips made since the last draw.
    const draw = () => {
      frame = 0;
      showRun();
      if (made === drawn) return;
      lastDraw = performance.now();
      output.append(pending);
      drawn = made;
      stats.textContent = `${drawn} tokens…`;
    };
    // A draw in an animation frame, just before the frame's own layout, follows the end of the text while the reader
    // is there: reading the new height here lays the text out once, as the frame would, and the frame paints it
    // scrolled (scrolling in the next frame would paint the box twice). The first and the last draw of a run happen
    // at once instead (the first into a box just emptied; after the last the panel follows the end in a frame).
    const drawInFrame = () => {
      draw();
      if (following) output.scrollTop = output.scrollHeight;
    };

    const setView = (text: boolean) => {
      plain.hidden = !text;
      output.hidden = text;
      showTokens.setAttribute('aria-pressed', String(!text));
      showText.setAttribute('aria-pressed', String(text));
    };
    showTokens.addEventListener('click', () => setView(false));
    showText.addEventListener('click', () => setView(true));
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(plain.textContent ?? '');
        copied.textContent = 'Copied.';
      } catch (error) {
        // Without clipboard access (an insecure page, a denied permission) the text is selected instead.
        setView(true);
        getSelection()?.selectAllChildren(plain);
        copied.textContent = `Could not copy (${errorMessage(error)}): the text is selected, press Ctrl+C.`;
      }
    });

    go.addEventListener('click', async () => {
      if (running) return;
      const s = readSettings();
      if (checkSampling(s) || blocker()) return refresh();
      // After a crash the fresh worker gets the model back asynchronously, and it runs requests side by side:
      // a generate sent before that ends would find no model.
      await ctx.core.restored;
      // The speeds a person sees: from the click to the first and to the last token on the page. The worker starts
      // first; the last run's tokens stay until the first new one comes (see showRun).
      const start = performance.now();
      let firstTokenMs = 0;
      running = true;
      run = new Run();
      cancelDraw();
      [pending, made, drawn, stale, shownPrompt] = [document.createDocumentFragment(), 0, 0, true, prompt.value];
      const generation = ctx.core.callWithProgress(
        'generate',
        (value) => {
          const batch = value as GenerateProgress;
          run.add(batch);
          chips(batch.ids);
          if (drawn === 0) {
            showRunning();
            draw();
            firstTokenMs = performance.now() - start;
          } else schedule();
        },
        prompt.value,
        { temperature: s.temperature, topK: s.topK, topP: s.topP, maxTokens: s.maxTokens, seed: s.seed },
      );
      // The panel shows that it is generating with the first token, or after SHOW_RUNNING_MS if that takes longer:
      // changing the page here would make the browser render a frame just as the first token arrives, which then
      // waits for that frame (a few milliseconds of the time to the first token).
      let shown = false;
      const showRunning = () => {
        if (shown) return;
        shown = true;
        clearTimeout(soon);
        refresh();
        stop.disabled = false;
        replace(plain);
        views.hidden = true;
        copied.textContent = '';
        // A screen reader reads the text once it is complete, not token by token.
        output.setAttribute('aria-busy', 'true');
        stats.dataset.state = 'running';
        stats.textContent = 'Generating…';
      };
      const soon = window.setTimeout(showRunning, SHOW_RUNNING_MS);
      try {
        const done = await generation;
        showRunning();
        cancelDraw();
        draw();
        const totalMs = performance.now() - start;
        const tokensPerSec = (done.count * 1000) / Math.max(1e-9, totalMs);
        // The token objects only when read (tests, the console): a thousand tokens with their alternatives are
        // thousands of objects for the page's garbage collector.
        const finished = run;
        const result = { ...done, maxTokens: s.maxTokens, firstTokenMs, totalMs, tokensPerSec } as GenerateResult;
        window.tpGenerated = Object.defineProperty(result, 'tokens', { enumerable: true, get: () => finished.ids.map((_, i) => finished.token(i)) });
        plain.textContent = prompt.value + done.text;
        views.hidden = false;
        output.append(h('span', { class: `gen-end ${done.stopped ? 'stopped' : 'finished'}`, id: 'gen-end' }, done.stopped ? '■ stopped here' : '● end'));
        if (following) requestAnimationFrame(() => (output.scrollTop = output.scrollHeight));
        stats.dataset.state = done.stopped ? 'stopped' : 'done';
        replace(
          stats,
          h('span', { class: `pill ${done.stopped ? 'stopped' : 'pass'}`, id: 'gen-outcome' }, done.stopped ? 'STOPPED' : 'DONE'),
          done.stopped
            ? ` Stopped after ${done.count} of ${s.maxTokens} tokens (you pressed Stop), `
            : ` ${done.count} tokens (the maximum asked for), `,
          `after a ${done.promptTokens}-token prompt, ${WHERE[done.backend]} · first token after ${firstTokenMs.toFixed(1)} ms (latency) · `,
          h('strong', {}, `${tokensPerSec.toFixed(0)} tokens/s`),
          ` (throughput, with the KV cache), from pressing Generate to the last token on the page (the model's own time: ${done.modelMs.toFixed(1)} of ${totalMs.toFixed(1)} ms). `,
          'Hover or focus a token for its probability and the alternatives the model weighed.',
        );
      } catch (err) {
        showRunning();
        cancelDraw();
        showRun();
        stats.dataset.state = 'error';
        replace(stats, h('span', { class: 'pill fail' }, 'FAILED'), ` Generation stopped: ${errorMessage(err)}`);
        // A lost WebGPU device moved the model to the CPU: the page's picture of it follows.
        void ctx.core.call('modelInfo').then((info) => ctx.store.set('modelInfo', info), () => undefined);
      } finally {
        output.setAttribute('aria-busy', 'false');
        running = false;
        stop.disabled = true;
        refresh();
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
      const s = readSettings();
      const error = checkSampling(s);
      refresh();
      if (error) {
        status.textContent = `Cannot generate with these settings: ${error}`;
        status.dataset.kind = 'error';
        return;
      }
      status.textContent = '';
      delete status.dataset.kind;
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
