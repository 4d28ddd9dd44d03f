// The user's own data: a drawing grid (keyboard reachable: each cell is a toggle
// button) and loading of CSV or PNG files into 0/1 pixels.

export const MAX_LOADED_SIDE = 64;

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
    this.side = Math.min(16, Math.max(2, Math.round(side) || 6));
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

/** Parses a CSV (or whitespace-separated) file of 0/1 rows of rows x cols values. */
export function parseCsv(text, rows, cols) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new Error('the file has no rows');
  const size = rows * cols;
  const pixels = new Float32Array(lines.length * size);
  lines.forEach((line, r) => {
    const cells = line.split(/[\s,;]+/).filter(Boolean);
    if (cells.length !== size) {
      throw new Error(`row ${r + 1} has ${cells.length} values; a ${rows} x ${cols} image needs ${size}`);
    }
    cells.forEach((cell, c) => {
      if (cell !== '0' && cell !== '1') throw new Error(`row ${r + 1}, value ${c + 1} is "${cell}"; only 0 and 1 are allowed`);
      pixels[r * size + c] = cell === '1' ? 1 : 0;
    });
  });
  return { pixels, rows, cols, count: lines.length };
}

/** Thresholds PNG images: a pixel is on when it is darker than mid-grey and not transparent. */
export async function parsePngs(files) {
  const images = [];
  for (const file of files) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      throw new Error(`${file.name} is not an image this browser can read`);
    }
    if (bitmap.width > MAX_LOADED_SIDE || bitmap.height > MAX_LOADED_SIDE) {
      throw new Error(`${file.name} is ${bitmap.width} x ${bitmap.height}; images must be at most ${MAX_LOADED_SIDE} x ${MAX_LOADED_SIDE}`);
    }
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
    const pixels = new Float32Array(bitmap.width * bitmap.height);
    for (let p = 0; p < pixels.length; p++) {
      const luminance = (0.299 * data[p * 4] + 0.587 * data[p * 4 + 1] + 0.114 * data[p * 4 + 2]) / 255;
      pixels[p] = data[p * 4 + 3] >= 128 && luminance < 0.5 ? 1 : 0;
    }
    images.push({ name: file.name, rows: bitmap.height, cols: bitmap.width, pixels });
  }
  const [first] = images;
  const odd = images.find((im) => im.rows !== first.rows || im.cols !== first.cols);
  if (odd) throw new Error(`${odd.name} is ${odd.cols} x ${odd.rows} but ${first.name} is ${first.cols} x ${first.rows}; all images must share one size`);
  const pixels = new Float32Array(images.length * first.pixels.length);
  images.forEach((im, k) => pixels.set(im.pixels, k * first.pixels.length));
  return { pixels, rows: first.rows, cols: first.cols, count: images.length };
}

export async function readDataFiles(files, rows, cols) {
  if (files.length === 0) throw new Error('choose a file');
  if (files.every((f) => f.type === 'image/png' || f.name.toLowerCase().endsWith('.png'))) return parsePngs(files);
  if (files.length > 1) throw new Error('choose one CSV file, or one or more PNG images');
  if (!(rows >= 1 && rows <= MAX_LOADED_SIDE && cols >= 1 && cols <= MAX_LOADED_SIDE)) {
    throw new Error(`image rows and columns must be between 1 and ${MAX_LOADED_SIDE}`);
  }
  return parseCsv(await files[0].text(), rows, cols);
}
