// Line charts on a 2D canvas, drawn by hand: axes with round tick values, grid lines, one line per series
// and a legend. Colors come from the theme's CSS variables, so charts follow light and dark.
import { h } from './dom';

export interface Series {
  name: string;
  /** A CSS variable (`--train`) or color. */
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface ChartOptions {
  xLabel: string;
  yLabel: string;
  /** Start the y axis at zero (otherwise it fits the data). */
  zeroBased?: boolean;
  /** A logarithmic y axis (for perplexity, which falls by orders of magnitude). */
  logY?: boolean;
}

/** Ticks for a log axis: 1, 2, 5 times powers of ten inside [lo, hi] (in data units). */
function logTicks(lo: number, hi: number): number[] {
  const pick = (multiples: number[]) => {
    const out: number[] = [];
    for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++)
      for (const m of multiples) {
        const v = m * 10 ** p;
        if (v >= lo && v <= hi) out.push(v);
      }
    return out;
  };
  const coarse = pick([1, 2, 5]);
  // A narrow range (perplexity from 8 to 2) needs every digit to show any ticks at all.
  return coarse.length >= 3 ? coarse : pick([1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

declare global {
  interface Window {
    /** The series of every chart by id, for tests and the curious. */
    tpCharts?: Record<string, Series[]>;
  }
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

function ticks(lo: number, hi: number, count: number): number[] {
  const step = niceStep(hi - lo || 1, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function cssColor(color: string): string {
  return color.startsWith('--') ? getComputedStyle(document.documentElement).getPropertyValue(color).trim() || '#888' : color;
}

/** Draws the series into the canvas at its CSS size (sharp on high-DPI screens). */
export function drawChart(canvas: HTMLCanvasElement, id: string, series: Series[], options: ChartOptions): void {
  (window.tpCharts ??= {})[id] = series;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 480;
  const height = canvas.clientHeight || 220;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  if (!g) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const fg = cssColor('--fg');
  const muted = cssColor('--muted');
  const grid = cssColor('--border');
  const logY = options.logY === true;
  const fy = (y: number) => (logY ? Math.log10(y) : y);
  const all = series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0))
    .map(([x, y]) => [x, fy(y)] as [number, number]);
  const pad = { left: 62, right: 12, top: 12, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = muted;
  if (all.length === 0) {
    g.fillText('no data yet', pad.left + 8, pad.top + 20);
    return;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (options.zeroBased && !logY) y0 = Math.min(0, y0);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const yPad = (y1 - y0) * 0.05;
  if (!options.zeroBased || y0 < 0 || logY) y0 -= yPad;
  y1 += yPad;
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => pad.top + (1 - (fy(y) - y0) / (y1 - y0)) * plotH;
  // Grid and ticks.
  g.strokeStyle = grid;
  g.lineWidth = 1;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  const yTicks = logY ? logTicks(10 ** y0, 10 ** y1) : ticks(y0, y1, 5);
  for (const v of yTicks) {
    g.beginPath();
    g.moveTo(pad.left, sy(v));
    g.lineTo(pad.left + plotW, sy(v));
    g.stroke();
    g.fillText(label(v), pad.left - 6, sy(v));
  }
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const v of ticks(x0, x1, 6)) g.fillText(label(v), sx(v), pad.top + plotH + 4);
  g.fillStyle = fg;
  g.fillText(options.xLabel, pad.left + plotW / 2, pad.top + plotH + 18);
  g.save();
  g.translate(10, pad.top + plotH / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = 'middle';
  g.fillText(options.yLabel, 0, 0);
  g.restore();
  g.strokeStyle = muted;
  g.strokeRect(pad.left, pad.top, plotW, plotH);
  // Lines.
  for (const s of series) {
    g.strokeStyle = cssColor(s.color);
    g.lineWidth = 2;
    g.setLineDash(s.dashed ? [5, 4] : []);
    g.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y) || (logY && y <= 0)) continue;
      if (started) g.lineTo(sx(x), sy(y));
      else g.moveTo(sx(x), sy(y));
      started = true;
    }
    g.stroke();
    if (s.points.length === 1) {
      g.fillStyle = cssColor(s.color);
      g.fillRect(sx(s.points[0][0]) - 2, sy(s.points[0][1]) - 2, 4, 4);
    }
  }
  g.setLineDash([]);
}

/** A chart figure: the canvas, a legend in HTML (readable by screen readers), and a caption. */
export function chartFigure(id: string, caption: string, names: [string, string, boolean?][]): { figure: HTMLElement; canvas: HTMLCanvasElement } {
  const canvas = h('canvas', { class: 'chart', id, role: 'img', 'aria-label': caption });
  const legendItems = names.map(([name, color, dashed]) => {
    const swatch = h('span', { class: `swatch${dashed ? ' dashed' : ''}` });
    swatch.style.borderColor = `var(${color})`;
    return h('span', { class: 'legend-item' }, swatch, name);
  });
  const figure = h('figure', { class: 'chart-figure' }, canvas, h('figcaption', {}, h('span', { class: 'legend-items' }, ...legendItems), ' ', caption));
  return { figure, canvas };
}
