// Heatmaps on a 2D canvas. The diverging scale (blue for negative, white for zero, red for positive) shows the
// sign of every value at a glance; the sequential scale (white to dark) suits probabilities such as attention.
import { h } from './dom';

export type Scale = 'diverging' | 'sequential';

function color(t: number, scale: Scale): [number, number, number] {
  if (scale === 'sequential') {
    const u = Math.max(0, Math.min(1, t));
    return [255 - 200 * u, 255 - 190 * u, 255 - 90 * u];
  }
  const v = Math.max(-1, Math.min(1, t));
  return v >= 0 ? [255, 255 * (1 - v), 255 * (1 - v)] : [255 * (1 + v), 255 * (1 + v), 255];
}

/** Draws `values` (rows, cols), one pixel per value; CSS scales the canvas up with crisp pixels. */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  scale: Scale = 'diverging',
  range?: [number, number],
): [number, number] {
  const context = canvas.getContext('2d');
  let lo = range?.[0] ?? Infinity;
  let hi = range?.[1] ?? -Infinity;
  if (!range) for (let i = 0; i < rows * cols; i++) (lo = Math.min(lo, values[i])), (hi = Math.max(hi, values[i]));
  const maxAbs = Math.max(1e-12, Math.abs(lo), Math.abs(hi));
  canvas.width = cols;
  canvas.height = rows;
  if (!context) return [lo, hi];
  const image = context.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const t = scale === 'diverging' ? values[i] / maxAbs : (values[i] - lo) / Math.max(1e-12, hi - lo);
    const [r, g, b] = color(t, scale);
    image.data.set([r, g, b, 255], i * 4);
  }
  context.putImageData(image, 0, 0);
  return [lo, hi];
}

/** A color legend: the gradient with its low and high values written under it. */
export function legend(scale: Scale, lo: number, hi: number, label: string): HTMLElement {
  const canvas = h('canvas', { class: 'legend-bar', width: 128, height: 1, 'aria-hidden': 'true' });
  const context = canvas.getContext('2d');
  if (context) {
    const image = context.createImageData(128, 1);
    for (let i = 0; i < 128; i++) {
      const t = scale === 'diverging' ? (i / 127) * 2 - 1 : i / 127;
      image.data.set([...color(t, scale), 255], i * 4);
    }
    context.putImageData(image, 0, 0);
  }
  const maxAbs = Math.max(Math.abs(lo), Math.abs(hi));
  const [left, right] = scale === 'diverging' ? [-maxAbs, maxAbs] : [lo, hi];
  return h(
    'div',
    { class: 'legend', role: 'img', 'aria-label': `${label}: color scale from ${left.toPrecision(3)} to ${right.toPrecision(3)}` },
    h('span', { class: 'legend-label' }, label),
    canvas,
    h('span', { class: 'legend-ends' }, h('span', {}, left.toPrecision(3)), h('span', {}, right.toPrecision(3))),
  );
}

export interface FigureOptions {
  caption: string;
  xLabel: string;
  yLabel: string;
  scale?: Scale;
  range?: [number, number];
  /** Names for the value shown on hover. */
  valueLabel?: string;
  className?: string;
  id?: string;
  /** Click (or Enter) opens a large copy in a dialog. */
  enlarge?: boolean;
  /** Names of the rows and columns (tokens), for the hover read-out and, when legible, along the axes. */
  rowLabels?: string[];
  colLabels?: string[];
  /** 'enlarged': write the names along the axes only in the enlarged copy (thumbnails, too small for them). */
  tickLabels?: 'always' | 'enlarged';
}

const MAX_TICK_LABELS = 128;
/** Tick labels are written at most this large, and hidden when a cell leaves less room than the smallest. */
const TICK_FONT_PX = { max: 12, min: 7 };

function tickLabels(labels: string[] | undefined, count: number, axis: 'x' | 'y'): HTMLElement | null {
  if (!labels || labels.length !== count || count > MAX_TICK_LABELS) return null;
  return h('div', { class: `ticks ticks-${axis}`, 'aria-hidden': 'true' }, ...labels.map((l) => h('span', { title: l }, l)));
}

/** Sizes the tick labels to the cells they name, so label i stays over column (or beside row) i: one cell's
 *  width is one line of text (x labels run upwards), and labels too small to read are hidden. */
function fitTicks(canvas: HTMLCanvasElement, rows: number, cols: number, x: HTMLElement | null, y: HTMLElement | null): void {
  const fit = () => {
    const box = canvas.getBoundingClientRect();
    for (const [ticks, cell] of [[x, box.width / cols], [y, box.height / rows]] as const) {
      if (!ticks || cell <= 0) continue;
      const font = Math.min(TICK_FONT_PX.max, cell * 0.85);
      ticks.style.fontSize = `${font.toFixed(1)}px`;
      ticks.hidden = font < TICK_FONT_PX.min;
      ticks.dataset.cell = cell.toFixed(2);
    }
  };
  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(fit).observe(canvas);
  requestAnimationFrame(fit);
}

/** Opens a modal dialog with a large copy of a heatmap; Escape or the button closes it. */
function openEnlarged(values: ArrayLike<number>, rows: number, cols: number, options: FigureOptions): void {
  const close = h('button', { type: 'button', class: 'ghost', id: 'enlarged-close' }, 'Close');
  const dialog = h(
    'dialog',
    { class: 'enlarged', id: 'enlarged', 'aria-label': options.caption },
    heatmapFigure(values, rows, cols, { ...options, enlarge: false, className: 'huge', id: undefined, tickLabels: 'always' }),
    h('div', { class: 'row' }, close),
  );
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

/** A heatmap with axis labels, a legend and a hover read-out of the value under the pointer. */
export function heatmapFigure(values: ArrayLike<number>, rows: number, cols: number, options: FigureOptions): HTMLElement {
  const scale = options.scale ?? 'diverging';
  const canvas = h('canvas', { class: `heatmap ${options.className ?? ''}`, role: 'img', 'aria-label': `${options.caption}: ${rows} by ${cols} heatmap` });
  const [lo, hi] = drawHeatmap(canvas, values, rows, cols, scale, options.range);
  // Keep the matrix's shape, within limits, so a long context stays on screen.
  canvas.style.aspectRatio = `${Math.min(2, Math.max(0.5, cols / rows))}`;
  const readout = h('span', { class: 'readout', 'aria-live': 'off' }, ' ');
  if (options.enlarge) {
    canvas.tabIndex = 0;
    canvas.classList.add('zoomable');
    canvas.title = 'Click to enlarge';
    canvas.addEventListener('click', () => openEnlarged(values, rows, cols, options));
    canvas.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        openEnlarged(values, rows, cols, options);
      }
    });
  }
  canvas.addEventListener('mousemove', (event) => {
    const box = canvas.getBoundingClientRect();
    const col = Math.floor(((event.clientX - box.left) / box.width) * cols);
    const row = Math.floor(((event.clientY - box.top) / box.height) * rows);
    if (row < 0 || col < 0 || row >= rows || col >= cols) return;
    const rowName = options.rowLabels?.[row] ? ` “${options.rowLabels[row]}”` : '';
    const colName = options.colLabels?.[col] ? ` “${options.colLabels[col]}”` : '';
    readout.textContent = `${options.yLabel} ${row}${rowName}, ${options.xLabel} ${col}${colName}: ${values[row * cols + col].toFixed(4)}`;
  });
  const withTicks = (options.tickLabels ?? 'always') === 'always';
  const yTicks = withTicks ? tickLabels(options.rowLabels, rows, 'y') : null;
  const xTicks = withTicks ? tickLabels(options.colLabels, cols, 'x') : null;
  if (xTicks || yTicks) fitTicks(canvas, rows, cols, xTicks, yTicks);
  return h(
    'figure',
    { class: `hm-figure${options.className ? ` hm-${options.className}` : ''}`, id: options.id },
    h(
      'div',
      { class: 'hm-grid' },
      h('span', { class: 'y-label' }, `${options.yLabel} ↓ (0–${rows - 1})`),
      yTicks ?? h('span', {}),
      canvas,
      h('span', {}),
      h('span', {}),
      xTicks ?? h('span', {}),
      h('span', {}),
      h('span', {}),
      h('span', { class: 'x-label' }, `${options.xLabel} → (0–${cols - 1})`),
    ),
    h('figcaption', {}, options.caption, ' ', readout),
    legend(scale, lo, hi, options.valueLabel ?? 'value'),
  );
}
