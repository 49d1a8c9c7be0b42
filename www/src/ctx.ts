// What every panel gets: the worker client and the shared state.
import type { CoreClient } from './client';
import { h } from './dom';
import type { Store } from './state';

export interface Ctx {
  core: CoreClient;
  store: Store;
}

export interface Panel {
  id: string;
  title: string;
  mount(section: HTMLElement, ctx: Ctx): void;
}

/** The panel's heading, its plain-language explanation and, where the textbook has one, its formula. */
export function intro(title: string, explain: string, formula?: string): HTMLElement[] {
  const parts: HTMLElement[] = [h('h2', {}, title), h('p', { class: 'explain' }, explain)];
  if (formula) parts.push(h('p', { class: 'formula', 'aria-label': 'formula' }, formula));
  return parts;
}

/** A labelled number input. */
export function numberField(
  id: string,
  label: string,
  value: number,
  attrs: { min?: number; max?: number; step?: number | 'any'; hint?: string } = {},
): { wrap: HTMLElement; input: HTMLInputElement } {
  const input = h('input', {
    id,
    type: 'number',
    inputmode: 'decimal',
    value: String(value),
    min: attrs.min,
    max: attrs.max,
    step: attrs.step ?? 1,
    'aria-describedby': attrs.hint ? `${id}-hint` : undefined,
  });
  const wrap = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    attrs.hint ? h('small', { id: `${id}-hint`, class: 'hint' }, attrs.hint) : null,
  );
  return { wrap, input };
}

export function selectField(
  id: string,
  label: string,
  options: [string, string][],
  value: string,
): { wrap: HTMLElement; select: HTMLSelectElement } {
  const select = h('select', { id }, ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return { wrap: h('div', { class: 'field' }, h('label', { for: id }, label), select), select };
}

/** Offers `data` as a file download (a blob URL; nothing leaves the machine). */
export function download(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
