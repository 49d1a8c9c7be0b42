// LoRA in the Training panel: a switch with rank, alpha, dropout and target layers. A LoRA run fine-tunes the
// current model (trained here or imported from Hugging Face): its weights freeze, and small adapters (B A) beside
// the chosen layers train. What trains and the memory it saves are the package's counts (Model.trainableCount,
// Model.trainingBytes against modelSize), shown as they are.
import { h } from '../dom';
import type { Ctx } from '../ctx';
import { formatBytes } from '../format';
import type { LoraMemory, LoraSettings } from '../protocol';

const TARGETS: [LoraSettings['targets'][number], string, string][] = [
  ['c_attn', 't-lora-c-attn', 'c_attn (Q, K, V)'],
  ['attn.c_proj', 't-lora-attn-c-proj', 'attn.c_proj (attention output)'],
  ['c_fc', 't-lora-c-fc', 'c_fc (feed-forward in)'],
  ['mlp.c_proj', 't-lora-mlp-c-proj', 'mlp.c_proj (feed-forward out)'],
];

declare global {
  interface Window {
    tpLora?: LoraMemory | null;
  }
}

export interface LoraControls {
  element: HTMLElement;
  /** The checkbox: the panel turns on “Keep the trained weights” with it. */
  toggle: HTMLInputElement;
  /** The settings of a LoRA run, or null when the switch is off. */
  settings(): LoraSettings | null;
  /** Why a LoRA run cannot start with these settings (`fineTune`: the run keeps a model's weights), or null. */
  problem(fineTune: boolean): string | null;
  /** Shows what a run's adapters train and save. */
  show(memory: LoraMemory | null): void;
  /** Asks the worker for the current model's counts (after a run, a load, a reload). */
  refresh(batchSize: number, seqLen: number): void;
}

export function loraControls(ctx: Ctx): LoraControls {
  const toggle = h('input', { type: 'checkbox', id: 't-lora' });
  const field = (id: string, label: string, value: number, hint: string, attrs: Record<string, string | number>) => {
    const input = h('input', { id, type: 'number', inputmode: 'decimal', value: String(value), 'aria-describedby': `${id}-hint`, ...attrs });
    return { input, wrap: h('div', { class: 'field' }, h('label', { for: id }, label), input, h('small', { id: `${id}-hint`, class: 'hint' }, hint)) };
  };
  const rank = field('t-lora-rank', 'Rank r', 8, 'columns of A and rows of B', { min: 1, max: 256, step: 1 });
  const alpha = field('t-lora-alpha', 'Alpha', 16, 'the update is scaled by alpha / r', { min: 0, step: 'any' });
  const dropout = field('t-lora-dropout', 'Adapter dropout', 0, 'on the adapters’ input, 0 to 0.9', { min: 0, max: 0.9, step: 'any' });
  const boxes = TARGETS.map(([name, id, label]) => {
    const box = h('input', { type: 'checkbox', id, value: name, checked: name === 'c_attn' });
    return { name, box, wrap: h('label', { for: id, class: 'compact' }, box, label) };
  });
  const info = h('p', { id: 't-lora-info', class: 'hint', 'aria-live': 'polite' });
  const settingsBox = h(
    'div',
    { id: 't-lora-settings' },
    h('div', { class: 'grid-form' }, rank.wrap, alpha.wrap, dropout.wrap),
    h('fieldset', { class: 'row' }, h('legend', {}, 'Adapt these layers of every block'), ...boxes.map((b) => b.wrap)),
  );
  const element = h(
    'fieldset',
    { id: 'lora-fieldset', class: 'lora' },
    h('legend', {}, 'LoRA fine-tuning'),
    h(
      'p',
      { class: 'explain' },
      'LoRA freezes every weight of the model and trains a small low-rank update beside each chosen layer: ' +
        'W x + (alpha / r) B A x, with A (r × in) random and B (out × r) zero, so the model starts unchanged. ' +
        'Only A and B get gradients and optimizer state, which is where the memory goes. A LoRA run fine-tunes the ' +
        'current model (trained here or imported in Save & load); adapters of an earlier LoRA run are merged in first.',
    ),
    h('label', { for: 't-lora', class: 'compact' }, toggle, 'Fine-tune with LoRA adapters (only they train)'),
    settingsBox,
    info,
  );
  const syncDisabled = () => {
    for (const input of [rank.input, alpha.input, dropout.input, ...boxes.map((b) => b.box)]) input.disabled = !toggle.checked;
  };
  toggle.addEventListener('change', syncDisabled);
  syncDisabled();

  const read = (): LoraSettings => ({
    rank: Number(rank.input.value),
    alpha: Number(alpha.input.value),
    dropout: Number(dropout.input.value),
    targets: boxes.filter((b) => b.box.checked).map((b) => b.name),
  });
  const problem = (fineTune: boolean): string | null => {
    if (!toggle.checked) return null;
    const s = read();
    if (!Number.isInteger(s.rank) || s.rank < 1 || s.rank > 256) return 'the LoRA rank must be a whole number from 1 to 256 (4 to 16 is usual).';
    if (!(s.alpha > 0 && s.alpha <= 4096)) return 'LoRA alpha must be above 0 and at most 4096 (twice the rank is usual).';
    if (!(s.dropout >= 0 && s.dropout <= 0.9)) return 'the adapter dropout must be from 0 to 0.9.';
    if (s.targets.length === 0) return 'choose at least one layer for the LoRA adapters.';
    if (!fineTune) return 'LoRA fine-tunes a model you have: train one or import one (Save & load), then check “Keep the trained weights”.';
    return null;
  };
  const show = (memory: LoraMemory | null) => {
    window.tpLora = memory;
    if (!memory) {
      info.textContent = toggle.checked ? 'The trainable parameters and the memory saved appear when the run adds the adapters.' : '';
      delete info.dataset.trainable;
      return;
    }
    info.dataset.trainable = String(memory.trainable);
    info.dataset.params = String(memory.params);
    const share = (100 * memory.trainable) / memory.params;
    const batch = `a batch of ${memory.batchSize} × ${memory.seqLen} tokens`;
    if (memory.trainable === memory.params) {
      info.textContent = `No adapters on the model: all ${memory.params.toLocaleString('en-US')} parameters train, ${formatBytes(memory.bytes)} of training memory for ${batch}.`;
      return;
    }
    const saved = memory.fullBytes - memory.bytes;
    info.textContent =
      `Trainable: ${memory.trainable.toLocaleString('en-US')} of ${memory.params.toLocaleString('en-US')} parameters (${share < 0.1 ? share.toFixed(3) : share.toFixed(1)}%). ` +
      `Training memory for ${batch}: ${formatBytes(memory.bytes)} with LoRA, ${formatBytes(memory.fullBytes)} for full fine-tuning: ` +
      `${formatBytes(Math.max(0, saved))} (${Math.round((100 * saved) / memory.fullBytes)}%) saved.`;
  };
  toggle.addEventListener('change', () => {
    if (!toggle.checked || window.tpLora?.trainable !== window.tpLora?.params) return;
    show(null);
  });
  const refresh = (batchSize: number, seqLen: number) => {
    if (!ctx.store.modelInfo) return show(null);
    ctx.core
      .call('loraMemory', batchSize, seqLen)
      .then((memory) => show(memory && memory.trainable < memory.params ? memory : null))
      .catch(() => show(null));
  };
  show(null);
  return { element, toggle, settings: () => (toggle.checked ? read() : null), problem, show, refresh };
}
