// Pixels on canvases: grids of binary or probability images, weight filters in a
// diverging colour map, bar strips. Everything goes through ImageData + putImageData.

const GAP = 1;

function theme() {
  const style = getComputedStyle(document.documentElement);
  return {
    gap: style.getPropertyValue('--canvas-gap').trim() || '#333',
    positive: [232, 125, 40],
    negative: [46, 120, 220],
  };
}

function hexToRgb(colour) {
  const match = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  return match ? match.slice(1).map((h) => parseInt(h, 16)) : [51, 51, 51];
}

/** Sizes `canvas` for a grid of `count` tiles of rows x cols and returns the layout. */
function gridLayout(canvas, count, rows, cols, columns) {
  const across = columns ?? Math.max(1, Math.ceil(Math.sqrt(count)));
  const down = Math.max(1, Math.ceil(count / across));
  const width = across * (cols + GAP) + GAP;
  const height = down * (rows + GAP) + GAP;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return { across, width, height };
}

function fillBackground(image, colours = theme()) {
  const [r, g, b] = hexToRgb(colours.gap);
  for (let i = 0; i < image.data.length; i += 4) {
    image.data[i] = r;
    image.data[i + 1] = g;
    image.data[i + 2] = b;
    image.data[i + 3] = 255;
  }
}

/** Tiles of grey levels: `values` holds `count` images of rows x cols in [0, 1]. */
export function drawImages(canvas, values, count, rows, cols, columns) {
  const { across, width, height } = gridLayout(canvas, count, rows, cols, columns);
  const image = new ImageData(width, height);
  fillBackground(image);
  const size = rows * cols;
  for (let t = 0; t < count; t++) {
    const x0 = GAP + (t % across) * (cols + GAP);
    const y0 = GAP + Math.floor(t / across) * (rows + GAP);
    for (let p = 0; p < size; p++) {
      const level = Math.round(Math.min(1, Math.max(0, values[t * size + p])) * 255);
      const at = ((y0 + Math.floor(p / cols)) * width + x0 + (p % cols)) * 4;
      image.data[at] = image.data[at + 1] = image.data[at + 2] = level;
    }
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/** Writes the colour of `t` in [-1, 1] at `out[at..at + 3]`; `colours` is theme()'s. */
function diverging(t, out, at, { positive, negative }) {
  const target = t >= 0 ? positive : negative;
  const a = Math.min(1, Math.abs(t));
  // From near-black at zero to the full colour at the tile's largest magnitude.
  for (let c = 0; c < 3; c++) out[at + c] = Math.round(20 + (target[c] - 20) * a);
}

/**
 * Filters: weights is m x n row-major (weights[i*n + j] joins pixel i and hidden j);
 * draws up to `limit` hidden units, each scaled to its own largest |weight|.
 */
export function drawFilters(canvas, weights, m, n, rows, cols, limit = 100) {
  const count = Math.min(n, limit);
  const { across, width, height } = gridLayout(canvas, count, rows, cols);
  const image = new ImageData(width, height);
  // The style is read once a picture, not once a pixel (getComputedStyle costs about 2 µs).
  const colours = theme();
  fillBackground(image, colours);
  for (let j = 0; j < count; j++) {
    let scale = 0;
    for (let i = 0; i < m; i++) scale = Math.max(scale, Math.abs(weights[i * n + j]));
    const x0 = GAP + (j % across) * (cols + GAP);
    const y0 = GAP + Math.floor(j / across) * (rows + GAP);
    for (let i = 0; i < m; i++) {
      const at = ((y0 + Math.floor(i / cols)) * width + x0 + (i % cols)) * 4;
      diverging(scale > 0 ? weights[i * n + j] / scale : 0, image.data, at, colours);
    }
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/** One image in the diverging map, scaled to its largest magnitude: a single filter. */
export function drawSignedImage(canvas, values, rows, cols) {
  drawFilters(canvas, values, values.length, 1, rows, cols);
}

/**
 * Vertical bars, one per value. With `signed`, bars grow up (orange) or down (blue)
 * from the middle line, scaled to the largest magnitude; otherwise from the bottom in [0, 1].
 */
export function drawBars(canvas, values, { signed = false } = {}) {
  const barWidth = Math.max(1, Math.floor(600 / Math.max(1, values.length)));
  const width = Math.max(1, values.length * barWidth);
  const height = canvas.height;
  if (canvas.width !== width) canvas.width = width;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  const { positive, negative } = theme();
  const scale = signed ? values.reduce((s, v) => Math.max(s, Math.abs(v)), 0) || 1 : 1;
  values.forEach((value, k) => {
    const colour = value >= 0 ? positive : negative;
    context.fillStyle = `rgb(${colour.join(',')})`;
    if (signed) {
      const h = (Math.abs(value) / scale) * (height / 2);
      context.fillRect(k * barWidth, value >= 0 ? height / 2 - h : height / 2, Math.max(1, barWidth - 1), h);
    } else {
      const h = Math.min(1, Math.max(0, value)) * height;
      context.fillRect(k * barWidth, height - h, Math.max(1, barWidth - 1), h);
    }
  });
}

/**
 * Pairs of bars per state, exact probability (blue) and the chains' frequency (orange),
 * each state drawn as a small picture under its bars so that a bar says which state it
 * is (`states` are indices whose bit i is pixel i of a rows x cols picture).
 */
export function drawDistribution(canvas, exact, empirical, states = [], rows = 0, cols = 0) {
  const slot = 24;
  const width = Math.max(1, exact.length * slot);
  if (canvas.width !== width) canvas.width = width;
  const height = canvas.height;
  const cell = rows && cols ? Math.max(1, Math.floor(Math.min(20 / cols, 20 / rows))) : 0;
  const thumb = cell * rows;
  const plot = height - (thumb ? thumb + 4 : 0);
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  const top = Math.max(...exact, ...empirical, 1e-9);
  const { positive, negative } = theme();
  exact.forEach((p, k) => {
    const hp = (p / top) * (plot - 2);
    const hq = (empirical[k] / top) * (plot - 2);
    context.fillStyle = `rgb(${negative.join(',')})`;
    context.fillRect(k * slot + 2, plot - hp, 9, hp);
    context.fillStyle = `rgb(${positive.join(',')})`;
    context.fillRect(k * slot + 12, plot - hq, 9, hq);
    if (thumb && states[k] !== undefined) {
      const x0 = k * slot + Math.floor((slot - cell * cols) / 2);
      for (let i = 0; i < rows * cols; i++) {
        const on = (states[k] >> i) & 1;
        context.fillStyle = on ? '#f0f0ea' : '#303030';
        context.fillRect(x0 + (i % cols) * cell, plot + 4 + Math.floor(i / cols) * cell, cell, cell);
      }
    }
  });
}
