// A tiny DOM builder. Text is always set as text (never as HTML), so nothing a person types or trains on
// can become markup.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the contents of `parent` with `children`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no element #${id}`);
  return element as T;
}

export interface ConfirmOptions {
  /** The dialog's id; its buttons are `#<id>-confirm` and `#<id>-cancel`. */
  id: string;
  title: string;
  /** What will be lost, and how to avoid losing it. */
  text: string;
  /** The destructive button's label: says what it does ("Start from fresh weights"), never just "OK". */
  confirm: string;
  cancel?: string;
}

/**
 * Asks before something that cannot be undone. A modal `<dialog>` (role alertdialog): focus starts on Cancel, so
 * Enter or Escape keeps everything; Tab reaches the destructive button; focus returns to where it was.
 * Resolves true only when the destructive button is pressed.
 */
export function confirmAction(options: ConfirmOptions): Promise<boolean> {
  document.getElementById(options.id)?.remove();
  const confirm = h('button', { type: 'button', id: `${options.id}-confirm`, class: 'danger' }, options.confirm);
  const cancel = h('button', { type: 'button', id: `${options.id}-cancel`, class: 'ghost' }, options.cancel ?? 'Cancel');
  const dialog = h(
    'dialog',
    { id: options.id, class: 'confirm', role: 'alertdialog', 'aria-labelledby': `${options.id}-title`, 'aria-describedby': `${options.id}-text` },
    h('h2', { id: `${options.id}-title` }, options.title),
    h('p', { id: `${options.id}-text` }, options.text),
    h('div', { class: 'row' }, cancel, confirm),
  );
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  document.body.append(dialog);
  return new Promise((resolve) => {
    const finish = (confirmed: boolean) => {
      if (dialog.open) dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(confirmed);
    };
    confirm.addEventListener('click', () => finish(true));
    cancel.addEventListener('click', () => finish(false));
    // Escape, or closing it any other way, keeps everything.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.showModal();
    cancel.focus();
  });
}
