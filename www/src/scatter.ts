// A scatter plot on a 2D canvas with a text label beside each point (labels are drawn as canvas text, never
// as markup). Points are colored along a sequence (early to late) when `ordered` is set.
import { h } from './dom';

export function drawScatter(canvas: HTMLCanvasElement, points: [number, number][], labels: string[], ordered = false): void {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 420;
  const height = canvas.clientHeight || 420;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  if (!g || points.length === 0) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--fg').trim() || '#222';
  const grid = css.getPropertyValue('--border').trim() || '#ccc';
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = 28;
  const span = Math.max(x1 - x0, y1 - y0, 1e-9);
  const scale = (Math.min(width, height) - 2 * pad) / span;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const sx = (x: number) => width / 2 + (x - cx) * scale;
  const sy = (y: number) => height / 2 - (y - cy) * scale;
  g.clearRect(0, 0, width, height);
  g.strokeStyle = grid;
  g.beginPath();
  g.moveTo(sx(0), 0);
  g.lineTo(sx(0), height);
  g.moveTo(0, sy(0));
  g.lineTo(width, sy(0));
  g.stroke();
  g.font = '10px ui-monospace, Menlo, Consolas, monospace';
  g.textBaseline = 'middle';
  points.forEach(([x, y], i) => {
    const t = ordered ? i / Math.max(1, points.length - 1) : 0.5;
    g.fillStyle = `hsl(${Math.round(220 - 200 * t)}, 70%, 50%)`;
    g.beginPath();
    g.arc(sx(x), sy(y), 3, 0, Math.PI * 2);
    g.fill();
    if (labels[i]) {
      g.fillStyle = fg;
      g.fillText(labels[i], sx(x) + 5, sy(y));
    }
  });
}

export function scatterFigure(id: string, caption: string): { figure: HTMLElement; canvas: HTMLCanvasElement } {
  const canvas = h('canvas', { class: 'scatter', id, role: 'img', 'aria-label': caption });
  return { figure: h('figure', { class: 'chart-figure scatter-figure' }, canvas, h('figcaption', {}, caption)), canvas };
}
