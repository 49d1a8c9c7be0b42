// Scatter plots on a 2D canvas with a text label beside each point (labels are drawn as canvas text, never as
// markup). Labels never overlap: they are placed in priority order and one that would cover another is left
// out, so a crowded map shows fewer labels instead of a black blob. `ScatterView` adds hover, zoom and pan
// (wheel, pinch, drag, keyboard) and highlighted points, for maps with hundreds of tokens.
import { h } from './dom';

/** A label as drawn, in CSS pixels of the canvas (for tests: no two overlap). */
export interface PlacedLabel {
  index: number;
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ScatterData {
  /** (n, 2) */
  points: [number, number][];
  labels: string[];
  /** Color the points along their order (early blue to late red), as for positions. */
  ordered?: boolean;
  /** Higher first when labels compete for room (a token's count in the corpus); default: the order. */
  priority?: number[];
}

/** Where the data's bounding square sits on the canvas: screen = centre + (data - mid) * scale * zoom + pan. */
interface View {
  zoom: number;
  panX: number;
  panY: number;
}

const PAD = 28;
const LABEL_FONT = '10px ui-monospace, Menlo, Consolas, monospace';
const HOVER_RADIUS = 10;

function themeColors(): { fg: string; grid: string; accent: string; bg: string } {
  const css = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return { fg: read('--fg', '#222'), grid: read('--border', '#ccc'), accent: read('--accent', '#3b5bdb'), bg: read('--card', '#fff') };
}

/** Maps data to canvas pixels for a canvas `width` x `height` and a view. */
function projector(points: [number, number][], width: number, height: number, view: View): (p: [number, number]) => [number, number] {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-9);
  const scale = ((Math.min(width, height) - 2 * PAD) / span) * view.zoom;
  const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
  return ([x, y]) => [width / 2 + (x - cx) * scale + view.panX, height / 2 - (y - cy) * scale + view.panY];
}

/** Draws the points and the labels that fit; returns the screen position of every point and the labels drawn. */
function render(
  canvas: HTMLCanvasElement,
  data: ScatterData,
  view: View,
  marks: { highlighted?: ReadonlySet<number>; hovered?: number } = {},
): { screen: [number, number][]; placed: PlacedLabel[] } {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 420;
  const height = canvas.clientHeight || 420;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  const { points, labels } = data;
  if (!g || points.length === 0) return { screen: [], placed: [] };
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  const colors = themeColors();
  const project = projector(points, width, height, view);
  const screen = points.map(project);
  g.clearRect(0, 0, width, height);
  const [ox, oy] = project([0, 0]);
  g.strokeStyle = colors.grid;
  g.beginPath();
  g.moveTo(ox, 0);
  g.lineTo(ox, height);
  g.moveTo(0, oy);
  g.lineTo(width, oy);
  g.stroke();
  const onScreen = (i: number) => screen[i][0] >= -4 && screen[i][0] <= width + 4 && screen[i][1] >= -4 && screen[i][1] <= height + 4;
  const highlighted = marks.highlighted ?? new Set<number>();
  const dimmed = highlighted.size > 0;
  screen.forEach(([x, y], i) => {
    if (!onScreen(i)) return;
    const t = data.ordered ? i / Math.max(1, points.length - 1) : 0.5;
    g.globalAlpha = dimmed && !highlighted.has(i) ? 0.35 : 1;
    g.fillStyle = `hsl(${Math.round(220 - 200 * t)}, 70%, 50%)`;
    g.beginPath();
    g.arc(x, y, 3, 0, Math.PI * 2);
    g.fill();
  });
  g.globalAlpha = 1;
  for (const i of [...highlighted, marks.hovered ?? -1]) {
    if (i < 0 || i >= screen.length) continue;
    g.strokeStyle = colors.accent;
    g.lineWidth = 2;
    g.beginPath();
    g.arc(screen[i][0], screen[i][1], 6, 0, Math.PI * 2);
    g.stroke();
    g.lineWidth = 1;
  }
  // Labels in priority order (the hovered and highlighted points first); one that would overlap a label
  // already placed is left out.
  g.font = LABEL_FONT;
  g.textBaseline = 'middle';
  const priority = data.priority;
  const order = points.map((_, i) => i).filter((i) => labels[i] && onScreen(i));
  const rank = (i: number) => (i === marks.hovered ? 2 : highlighted.has(i) ? 1 : 0);
  order.sort((a, b) => rank(b) - rank(a) || (priority ? priority[b] - priority[a] : 0) || a - b);
  const placed: PlacedLabel[] = [];
  for (const i of order) {
    const w = g.measureText(labels[i]).width;
    const box = { index: i, text: labels[i], x: screen[i][0] + 5, y: screen[i][1] - 6, w, h: 12 };
    if (placed.some((p) => box.x < p.x + p.w + 2 && p.x < box.x + box.w + 2 && box.y < p.y + p.h && p.y < box.y + box.h)) continue;
    placed.push(box);
    g.fillStyle = rank(i) > 0 ? colors.accent : colors.fg;
    g.fillText(labels[i], box.x, screen[i][1]);
  }
  return { screen, placed };
}

/** A static scatter plot (the position vectors): fitted to the canvas, labels that fit. */
export function drawScatter(canvas: HTMLCanvasElement, points: [number, number][], labels: string[], ordered = false): PlacedLabel[] {
  return render(canvas, { points, labels, ordered }, { zoom: 1, panX: 0, panY: 0 }).placed;
}

export function scatterFigure(id: string, caption: string): { figure: HTMLElement; canvas: HTMLCanvasElement } {
  const canvas = h('canvas', { class: 'scatter', id, role: 'img', 'aria-label': caption });
  return { figure: h('figure', { class: 'chart-figure scatter-figure' }, canvas, h('figcaption', {}, caption)), canvas };
}

const ZOOM = { min: 0.5, max: 64, step: 1.25 };
const PAN_STEP = 40;

/**
 * An interactive scatter plot: hover (or pick by search) a point for its description; zoom with the wheel, a
 * pinch, + and −; pan by dragging or with the arrow keys; 0 resets. `describe(i)` says what point i is.
 */
export class ScatterView {
  readonly canvas: HTMLCanvasElement;
  readonly figure: HTMLElement;
  /** What the pointer is over (or what the search found), in words. */
  readonly readout: HTMLElement;
  view: View = { zoom: 1, panX: 0, panY: 0 };
  placed: PlacedLabel[] = [];
  screen: [number, number][] = [];
  hovered = -1;
  highlighted = new Set<number>();
  private data: ScatterData = { points: [], labels: [] };
  private pointers = new Map<number, [number, number]>();
  private dragged = false;

  constructor(
    id: string,
    caption: string,
    private describe: (index: number) => string,
  ) {
    this.canvas = h('canvas', {
      class: 'scatter interactive',
      id,
      role: 'img',
      tabindex: 0,
      'aria-label': `${caption} Zoom with the mouse wheel, a pinch or the + and − keys, move with the arrow keys or by dragging, 0 resets.`,
    });
    this.readout = h('p', { class: 'readout scatter-readout', id: `${id}-readout`, 'aria-live': 'polite' });
    this.figure = h(
      'figure',
      { class: 'chart-figure scatter-figure' },
      this.canvas,
      h('figcaption', {}, caption, ' ', h('span', { class: 'hint' }, 'Wheel or pinch to zoom, drag to move; keys: + − arrows 0.')),
      this.readout,
    );
    this.listen();
  }

  setData(data: ScatterData): void {
    this.data = data;
    this.hovered = -1;
    this.highlighted = new Set([...this.highlighted].filter((i) => i < data.points.length));
    this.draw();
  }

  setHighlight(indices: Iterable<number>): void {
    this.highlighted = new Set(indices);
    this.draw();
  }

  /** Zooms in on point `index` (at least 4x) and says what it is. */
  focusPoint(index: number): void {
    if (index < 0 || index >= this.data.points.length) return;
    this.view.zoom = Math.max(this.view.zoom, 4);
    this.view.panX = 0;
    this.view.panY = 0;
    const [x, y] = projector(this.data.points, this.canvas.clientWidth || 420, this.canvas.clientHeight || 420, this.view)(this.data.points[index]);
    this.view.panX = (this.canvas.clientWidth || 420) / 2 - x;
    this.view.panY = (this.canvas.clientHeight || 420) / 2 - y;
    this.readout.textContent = this.describe(index);
    this.draw();
  }

  resetView(): void {
    this.view = { zoom: 1, panX: 0, panY: 0 };
    this.draw();
  }

  draw(): void {
    const result = render(this.canvas, this.data, this.view, { highlighted: this.highlighted, hovered: this.hovered });
    this.screen = result.screen;
    this.placed = result.placed;
  }

  /** Zooms by `factor` keeping the canvas point (px, py) where it is. */
  zoomAt(factor: number, px: number, py: number): void {
    const zoom = Math.min(ZOOM.max, Math.max(ZOOM.min, this.view.zoom * factor));
    const applied = zoom / this.view.zoom;
    const [cx, cy] = [(this.canvas.clientWidth || 420) / 2, (this.canvas.clientHeight || 420) / 2];
    // The point under (px, py) is centre + d * zoom + pan; keep it there.
    this.view.panX = px - cx - (px - cx - this.view.panX) * applied;
    this.view.panY = py - cy - (py - cy - this.view.panY) * applied;
    this.view.zoom = zoom;
    this.draw();
  }

  /** The point nearest to the canvas position (px, py), within HOVER_RADIUS pixels, or -1. */
  pointAt(px: number, py: number): number {
    let best = -1;
    let bestDistance = HOVER_RADIUS * HOVER_RADIUS;
    this.screen.forEach(([x, y], i) => {
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d <= bestDistance) [best, bestDistance] = [i, d];
    });
    return best;
  }

  private local(event: { clientX: number; clientY: number }): [number, number] {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  private listen(): void {
    const canvas = this.canvas;
    canvas.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const [px, py] = this.local(event);
        this.zoomAt(Math.exp(-event.deltaY * 0.002), px, py);
      },
      { passive: false },
    );
    canvas.addEventListener('pointerdown', (event) => {
      // Keep getting this pointer's moves when it leaves the canvas mid-drag (a pointer that is not active,
      // such as a synthetic one, cannot be captured: then the drag simply ends at the edge).
      try {
        canvas.setPointerCapture(event.pointerId);
      } catch {
        /* not capturable */
      }
      this.pointers.set(event.pointerId, this.local(event));
      this.dragged = false;
    });
    canvas.addEventListener('pointermove', (event) => {
      const now = this.local(event);
      const before = this.pointers.get(event.pointerId);
      if (!before) {
        this.hover(now);
        return;
      }
      if (this.pointers.size === 2) {
        // Pinch: zoom by the change of the distance between the two fingers, around their midpoint.
        const other = [...this.pointers.entries()].find(([id]) => id !== event.pointerId)![1];
        const apart = (a: [number, number]) => Math.hypot(a[0] - other[0], a[1] - other[1]);
        if (apart(before) > 0) this.zoomAt(apart(now) / apart(before), (now[0] + other[0]) / 2, (now[1] + other[1]) / 2);
      } else {
        this.view.panX += now[0] - before[0];
        this.view.panY += now[1] - before[1];
        if (Math.abs(now[0] - before[0]) + Math.abs(now[1] - before[1]) > 0) this.dragged = true;
        this.draw();
      }
      this.pointers.set(event.pointerId, now);
    });
    const release = (event: PointerEvent) => {
      const at = this.local(event);
      this.pointers.delete(event.pointerId);
      if (!this.dragged) this.hover(at);
    };
    canvas.addEventListener('pointerup', release);
    canvas.addEventListener('pointercancel', (event) => this.pointers.delete(event.pointerId));
    canvas.addEventListener('pointerleave', () => {
      if (this.pointers.size > 0 || this.hovered < 0) return;
      this.hovered = -1;
      this.draw();
    });
    canvas.addEventListener('keydown', (event) => {
      const [cx, cy] = [canvas.clientWidth / 2, canvas.clientHeight / 2];
      const moves: Record<string, () => void> = {
        '+': () => this.zoomAt(ZOOM.step, cx, cy),
        '=': () => this.zoomAt(ZOOM.step, cx, cy),
        '-': () => this.zoomAt(1 / ZOOM.step, cx, cy),
        '0': () => this.resetView(),
        ArrowLeft: () => this.panBy(PAN_STEP, 0),
        ArrowRight: () => this.panBy(-PAN_STEP, 0),
        ArrowUp: () => this.panBy(0, PAN_STEP),
        ArrowDown: () => this.panBy(0, -PAN_STEP),
      };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      move();
    });
  }

  private panBy(dx: number, dy: number): void {
    this.view.panX += dx;
    this.view.panY += dy;
    this.draw();
  }

  private hover([px, py]: [number, number]): void {
    const index = this.pointAt(px, py);
    if (index === this.hovered) return;
    this.hovered = index;
    if (index >= 0) this.readout.textContent = this.describe(index);
    this.draw();
  }
}
