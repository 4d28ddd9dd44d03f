// The user's own data: a drawing grid (keyboard reachable: each cell is a toggle
// button) and loading of PNG files into 0/1 pixels (CSV files are parsed by the engine).
// Sizes come from the engine's table of ranges (settings.js LIMITS): `image_side` for
// loaded images, `draw_side` for the grid.
import { LIMITS } from './settings.js';

/** The largest side of a loaded image. */
export function maxLoadedSide() {
  return LIMITS.image_side.page.max;
}

export class DrawEditor {
  constructor({ grid, list, sideInput, onChange }) {
    this.grid = grid;
    this.list = list;
    this.sideInput = sideInput;
    this.onChange = onChange;
    this.patterns = [];
    this.painting = null;
    this.setSide(Number(sideInput.value));
    grid.addEventListener('pointerdown', (event) => {
      const cell = event.target.closest('button');
      if (!cell) return;
      event.preventDefault();
      this.painting = cell.getAttribute('aria-pressed') !== 'true';
      this.paint(cell);
    });
    grid.addEventListener('pointerover', (event) => {
      const cell = event.target.closest('button');
      if (cell && this.painting !== null && event.buttons) this.paint(cell);
    });
    window.addEventListener('pointerup', () => { this.painting = null; });
    grid.addEventListener('click', (event) => {
      // Keyboard activation (Enter or Space) arrives as a click with no pointer.
      const cell = event.target.closest('button');
      if (cell && event.detail === 0) this.set(cell, cell.getAttribute('aria-pressed') !== 'true');
    });
  }

  setSide(side) {
    const { min, max } = LIMITS.draw_side.page;
    this.side = Math.min(max, Math.max(min, Math.round(side) || 6));
    this.sideInput.value = this.side;
    this.grid.style.gridTemplateColumns = `repeat(${this.side}, 1fr)`;
    this.grid.replaceChildren(
      ...Array.from({ length: this.side * this.side }, (_, i) => {
        const cell = document.createElement('button');
        cell.type = 'button';
        cell.setAttribute('aria-pressed', 'false');
        cell.setAttribute('aria-label', `row ${Math.floor(i / this.side) + 1}, column ${(i % this.side) + 1}`);
        return cell;
      }),
    );
    if (this.patterns.length && this.patterns[0].length !== this.side * this.side) this.patterns = [];
    this.renderList();
  }

  paint(cell) {
    this.set(cell, this.painting);
  }

  set(cell, on) {
    cell.setAttribute('aria-pressed', String(on));
  }

  current() {
    return Array.from(this.grid.children, (cell) => (cell.getAttribute('aria-pressed') === 'true' ? 1 : 0));
  }

  clear() {
    for (const cell of this.grid.children) this.set(cell, false);
  }

  add() {
    this.patterns.push(this.current());
    this.renderList();
  }

  removeLast() {
    this.patterns.pop();
    this.renderList();
  }

  load(side, patterns) {
    this.setSide(side);
    this.patterns = patterns.map((p) => p.slice());
    this.renderList();
  }

  renderList() {
    const thumbs = this.patterns.map((pattern, k) => {
      const canvas = document.createElement('canvas');
      canvas.width = this.side;
      canvas.height = this.side;
      canvas.setAttribute('aria-label', `pattern ${k + 1}`);
      const image = new ImageData(this.side, this.side);
      pattern.forEach((on, i) => {
        image.data.fill(on ? 255 : 30, i * 4, i * 4 + 3);
        image.data[i * 4 + 3] = 255;
      });
      canvas.getContext('2d').putImageData(image, 0, 0);
      return canvas;
    });
    this.list.replaceChildren(...thumbs);
    this.onChange?.(this.patterns.length);
  }
}

/** Pixels of `count` images, each rows x cols, as 0/1 floats. */
export function patternsToPixels(patterns) {
  return Float32Array.from(patterns.flat());
}

/** CSV files are read up to this size (the engine parses them; see data::parse_csv). */
export const MAX_CSV_BYTES = 32e6;
/** Most PNG images read at once. */
export const MAX_PNG_FILES = 10_000;

/**
 * The 0/1 pixels of one decoded image: a pixel is on when it is darker than mid-grey
 * and not transparent. `rgba` holds width x height RGBA bytes, row by row.
 */
export function thresholdPixels(rgba, width, height) {
  const count = width * height;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || rgba.length !== count * 4) {
    throw new Error(`an image of ${width} x ${height} needs ${count * 4} bytes of pixels, not ${rgba.length}`);
  }
  const pixels = new Float32Array(count);
  for (let p = 0; p < count; p++) {
    const luminance = (0.299 * rgba[p * 4] + 0.587 * rgba[p * 4 + 1] + 0.114 * rgba[p * 4 + 2]) / 255;
    pixels[p] = rgba[p * 4 + 3] >= 128 && luminance < 0.5 ? 1 : 0;
  }
  return pixels;
}

/**
 * Combines decoded images `{name, rows, cols, pixels}` into one set, or throws saying
 * which image does not fit. Sizes are stated as rows x columns everywhere.
 */
export function combineImages(images) {
  if (images.length === 0) throw new Error('choose one or more PNG images');
  if (images.length > MAX_PNG_FILES) throw new Error(`${images.length} images are more than ${MAX_PNG_FILES.toLocaleString('en')}`);
  const [first] = images;
  for (const im of images) {
    if (im.rows > maxLoadedSide() || im.cols > maxLoadedSide() || im.rows < 1 || im.cols < 1) {
      throw new Error(`${im.name} is ${im.rows} rows x ${im.cols} columns; images must be at most ${maxLoadedSide()} x ${maxLoadedSide()}`);
    }
    if (im.rows !== first.rows || im.cols !== first.cols) {
      throw new Error(`${im.name} is ${im.rows} rows x ${im.cols} columns but ${first.name} is ${first.rows} x ${first.cols}; all images must share one size`);
    }
  }
  const size = first.rows * first.cols;
  const pixels = new Float32Array(images.length * size);
  images.forEach((im, k) => pixels.set(im.pixels, k * size));
  return { pixels, rows: first.rows, cols: first.cols, count: images.length, name: images.length === 1 ? first.name : `${images.length} images` };
}

/** Decodes and thresholds PNG files with the browser's own decoder. */
export async function parsePngs(files) {
  if (files.length > MAX_PNG_FILES) throw new Error(`${files.length} images are more than ${MAX_PNG_FILES.toLocaleString('en')}`);
  const images = [];
  for (const file of files) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      throw new Error(`${file.name} is not an image this browser can read`);
    }
    const { width, height } = bitmap;
    if (width > maxLoadedSide() || height > maxLoadedSide()) {
      bitmap.close();
      throw new Error(`${file.name} is ${height} rows x ${width} columns; images must be at most ${maxLoadedSide()} x ${maxLoadedSide()}`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const { data } = context.getImageData(0, 0, width, height);
    images.push({ name: file.name, rows: height, cols: width, pixels: thresholdPixels(data, width, height) });
  }
  return combineImages(images);
}
