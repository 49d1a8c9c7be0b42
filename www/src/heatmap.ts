// Draws a (rows, cols) matrix as a heatmap on a 2D canvas: blue for negative, white for zero, red for positive
// (a diverging scale centred on zero, so the sign of every value is visible at a glance).

export function drawHeatmap(canvas: HTMLCanvasElement, values: ArrayLike<number>, rows: number, cols: number): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  let maxAbs = 1e-12;
  for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  const image = context.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const t = Math.max(-1, Math.min(1, values[i] / maxAbs));
    const [r, g, b] = t >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
    image.data.set([r, g, b, 255], i * 4);
  }
  canvas.width = cols;
  canvas.height = rows;
  context.putImageData(image, 0, 0);
}
