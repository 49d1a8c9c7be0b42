// Drawing an attention grid on a canvas (2D, no GPU): row = query token, column = key token, darker = more
// attention. Labels are drawn as canvas text, so token strings can never become markup.

export interface HeatmapStyle {
  color: string;
  fg: string;
  bg: string;
  font: string;
}

/** The theme of `element` from its custom properties. */
export function heatmapStyle(element: Element): HeatmapStyle {
  const css = getComputedStyle(element);
  const read = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  return {
    color: read('--tp-heat', '#0969da'),
    fg: read('--tp-fg', '#1f2328'),
    bg: read('--tp-bg', '#ffffff'),
    font: `${Math.round(parseFloat(css.fontSize) * 0.8) || 11}px ${css.fontFamily || 'monospace'}`,
  };
}

/**
 * Draws the (T, T) `grid` into `canvas`, `width` CSS pixels wide (square cells, labels on the left and top).
 * With `columns`, the grid is (rows, columns): `labels` name the rows (cross-attention: target tokens) and
 * `columns` the columns (source tokens). Returns the cell size, for hit-testing.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, grid: Float32Array, labels: string[], width: number, style: HeatmapStyle, columns: string[] = labels): number {
  const t = labels.length;
  const n = columns.length;
  const ratio = globalThis.devicePixelRatio || 1;
  const context = canvas.getContext('2d');
  if (!context || t === 0 || n === 0) return 0;
  context.font = style.font;
  let gutter = 0;
  for (const label of [...labels, ...columns]) gutter = Math.max(gutter, context.measureText(label).width);
  gutter = Math.min(Math.ceil(gutter) + 6, width * 0.3);
  const cell = Math.max(2, Math.floor((width - gutter) / Math.max(t, n)));
  const w = gutter + cell * n;
  const size = gutter + cell * t;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(size * ratio);
  canvas.style.setProperty('inline-size', `${w}px`); // CSSOM, allowed under a strict CSP
  canvas.style.setProperty('block-size', `${size}px`);
  context.scale(ratio, ratio);
  context.fillStyle = style.bg;
  context.fillRect(0, 0, w, size);
  context.fillStyle = style.color;
  for (let q = 0; q < t; q++) {
    for (let k = 0; k < n; k++) {
      const value = grid[q * n + k] ?? 0;
      if (value <= 0) continue;
      context.globalAlpha = Math.min(1, value);
      context.fillRect(gutter + k * cell, gutter + q * cell, cell, cell);
    }
  }
  context.globalAlpha = 1;
  context.font = style.font;
  context.fillStyle = style.fg;
  context.textBaseline = 'middle';
  if (cell >= 8) {
    context.textAlign = 'right';
    labels.forEach((label, i) => context.fillText(label, gutter - 4, gutter + i * cell + cell / 2, gutter - 4));
    context.save();
    context.textAlign = 'left';
    context.rotate(-Math.PI / 2);
    columns.forEach((label, i) => context.fillText(label, -gutter + 4, gutter + i * cell + cell / 2, gutter - 4));
    context.restore();
  }
  return cell;
}
