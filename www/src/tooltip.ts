// One shared tooltip, shown on hover and on keyboard focus, filled with text nodes only.
import { byId, replace } from './dom';

type Child = Node | string;

/** Shows the tooltip under `target` with `content`. */
export function showTooltip(target: HTMLElement, content: Child[]): void {
  const tip = byId('tooltip');
  replace(tip, ...content);
  tip.hidden = false;
  const box = target.getBoundingClientRect();
  const width = tip.offsetWidth;
  const left = Math.max(4, Math.min(window.innerWidth - width - 4, box.left + window.scrollX));
  tip.style.left = `${left}px`;
  tip.style.top = `${box.bottom + window.scrollY + 6}px`;
  target.setAttribute('aria-describedby', 'tooltip');
}

export function hideTooltip(target: HTMLElement): void {
  byId('tooltip').hidden = true;
  target.removeAttribute('aria-describedby');
}

export function attachTooltip(target: HTMLElement, content: () => Child[]): void {
  const show = () => showTooltip(target, content());
  const hide = () => hideTooltip(target);
  target.addEventListener('mouseenter', show);
  target.addEventListener('focus', show);
  target.addEventListener('mouseleave', hide);
  target.addEventListener('blur', hide);
}
