// The "use the model" panel: what a joint distribution over pictures is for. A draw
// pad at the data's resolution (mouse, touch and keyboard), and with whatever model
// the lab holds: complete the unknown pixels by clamped Gibbs sampling (animated),
// clean a noisy picture, and place a picture among the data by its free energy. The
// panel owns its DOM, its events and its settings (in the URL hash with the others);
// the engine's worker does the sampling.
import { SETTINGS, LIMITS, DEFAULTS, rangeProblem } from './settings.js';
import { drawImages } from './render.js';

const $ = (id) => document.getElementById(id);
const IDS = ['hide_part', 'completion_method', 'completion_chains', 'completion_steps', 'noise_level', 'denoise_method', 'brush'];
const CHOICE_LABELS = {
  top: 'top half', bottom: 'bottom half', left: 'left half', right: 'right half', painted: 'pixels painted with Hide',
  meanfield: 'mean-field', anneal: 'Gibbs, annealed', gibbs: 'clamped Gibbs sampling',
};
const SHOWN_CHAINS = 8;
const PAD_SIZE = 280;

export class UsePanel {
  /** `request(action, fields)` asks the worker; `onChange()` after a setting changed. */
  constructor({ request, onChange }) {
    this.request = request;
    this.onChange = onChange;
    this.values = Object.fromEntries(IDS.map((id) => [id, DEFAULTS.mnist[id]]));
    this.shape = null; // [rows, cols] of the model's pictures
    this.drawing = null; // Float32Array of 0/1 pixels
    this.known = null; // Uint8Array: 1 known, 0 hidden (the Hide tool's mask)
    this.original = null; // the picture taken from the data, while the drawing still equals it
    this.tool = 'brush';
    this.cursor = 0;
    this.pictureIndex = 0;
    this.seed = 1;
    this.completing = null; // {known} of the completion under way
    this.placement = null; // the last placement shown (its log Z may be under way)
    this.halfKnown = null; // the engine's mask for the chosen half (1 known), for showing it
  }

  /** Builds the controls once the engine's ranges are known. */
  start(values) {
    for (const id of IDS) {
      const setting = SETTINGS.find((s) => s.id === id);
      const label = document.createElement('label');
      label.title = setting.help;
      label.append(setting.label);
      let input;
      if (setting.kind === 'choice') {
        input = document.createElement('select');
        for (const option of setting.options) input.append(new Option(CHOICE_LABELS[option] ?? option, option));
      } else {
        input = document.createElement('input');
        input.type = 'number';
        Object.assign(input, { min: LIMITS[id].page.min, max: LIMITS[id].page.max, step: setting.integer ? '1' : 'any' });
        label.title = `${setting.help} Allowed: ${LIMITS[id].page_allowed}.`;
      }
      input.id = `use-${id}`;
      input.title = label.title;
      input.addEventListener('change', () => this.change(id, input));
      label.append(input);
      $(id === 'brush' ? 'use-pad-fields' : id === 'noise_level' || id === 'denoise_method' ? 'use-denoise-fields' : 'use-complete-fields').append(label);
    }
    this.apply(values);
    const pad = $('use-pad');
    pad.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      pad.focus();
      this.paintAt(event);
    });
    pad.addEventListener('pointermove', (event) => { if (event.buttons) this.paintAt(event); });
    pad.addEventListener('keydown', (event) => this.key(event));
    pad.addEventListener('focus', () => this.render());
    pad.addEventListener('blur', () => this.render());
    for (const tool of ['brush', 'eraser', 'hide']) {
      $(`use-tool-${tool}`).addEventListener('click', () => this.setTool(tool));
    }
    $('use-clear').addEventListener('click', () => this.clear());
    $('use-take').addEventListener('click', () => this.take());
    $('use-complete').addEventListener('click', () => (this.completing ? this.stop() : this.complete()));
    $('use-denoise').addEventListener('click', () => this.denoise());
    $('use-score').addEventListener('click', () => this.score());
  }

  apply(values) {
    for (const id of IDS) if (values[id] !== undefined) this.values[id] = values[id];
    for (const id of IDS) if ($(`use-${id}`)) $(`use-${id}`).value = String(this.values[id]);
    this.refreshMask();
  }

  change(id, input) {
    const setting = SETTINGS.find((s) => s.id === id);
    let value = input.value;
    if (setting.kind !== 'choice') {
      value = input.value.trim() === '' ? NaN : Number(input.value) + 0;
      const problem = rangeProblem(id, value);
      if (problem) {
        this.message(`Error: ${setting.label}: ${problem}`, 'error');
        input.value = String(this.values[id]);
        return;
      }
      input.value = String(value);
    }
    this.values[id] = value;
    this.message('');
    this.onChange();
    if (id === 'hide_part') this.refreshMask();
  }

  /** Asks the engine which pixels the chosen half hides, then shows them. */
  async refreshMask() {
    if (!this.shape) return;
    try {
      this.halfKnown = this.values.hide_part === 'painted' ? null
        : Uint8Array.from(await this.request('halfMask', { half: this.values.hide_part }));
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
    this.render();
  }

  message(text, kind = 'note') {
    $('use-message').textContent = text;
    $('use-message').dataset.kind = kind;
    $('use-message').hidden = !text;
  }

  /** The lab's model is (re)built: a completion under way ends; a new size clears the pad. */
  modelChanged(shape) {
    if (this.completing) $('use-complete-result').textContent = 'Stopped: the lab has a new model (complete again to use it).';
    this.stopPlacement('the lab has a new model: score again');
    this.setCompleting(null);
    if (this.shape && shape[0] === this.shape[0] && shape[1] === this.shape[1]) return;
    this.shape = shape;
    const m = shape[0] * shape[1];
    this.drawing = new Float32Array(m);
    this.known = new Uint8Array(m).fill(1);
    this.original = null;
    this.cursor = 0;
    for (const id of ['use-completions', 'use-denoised', 'use-histogram', 'use-histogram-legend']) $(id).hidden = true;
    for (const id of ['use-complete-result', 'use-denoise-result', 'use-score-result']) $(id).textContent = '';
    $('use-size').textContent = `${shape[0]} x ${shape[1]} pixels, the model's resolution`;
    this.halfKnown = null;
    this.refreshMask();
  }

  setTool(tool) {
    this.tool = tool;
    for (const t of ['brush', 'eraser', 'hide']) $(`use-tool-${t}`).setAttribute('aria-pressed', String(t === tool));
  }

  /** Paints the brush's square at pixel `index` with the current tool. */
  paint(index) {
    if (!this.shape) return;
    const [rows, cols] = this.shape;
    const size = this.values.brush;
    const r0 = Math.floor(index / cols);
    const c0 = index % cols;
    for (let r = r0; r < Math.min(rows, r0 + size); r++) {
      for (let c = c0; c < Math.min(cols, c0 + size); c++) {
        const i = r * cols + c;
        if (this.tool === 'hide') this.known[i] = 0;
        else {
          this.drawing[i] = this.tool === 'brush' ? 1 : 0;
          this.known[i] = 1;
        }
      }
    }
    if (this.original && this.tool !== 'hide' && !this.drawing.every((v, i) => v === this.original[i])) this.original = null;
    this.render();
  }

  paintAt(event) {
    if (!this.shape) return;
    const [rows, cols] = this.shape;
    const box = $('use-pad').getBoundingClientRect();
    const c = Math.floor(((event.clientX - box.left) / box.width) * cols);
    const r = Math.floor(((event.clientY - box.top) / box.height) * rows);
    if (r < 0 || c < 0 || r >= rows || c >= cols) return;
    this.cursor = r * cols + c;
    this.paint(this.cursor);
  }

  /** Keyboard: arrows move the cursor, Space or Enter paint, B, E and H pick a tool. */
  key(event) {
    if (!this.shape) return;
    const [rows, cols] = this.shape;
    const moves = { ArrowUp: -cols, ArrowDown: cols, ArrowLeft: -1, ArrowRight: 1 };
    const tools = { b: 'brush', e: 'eraser', h: 'hide' };
    if (moves[event.key] !== undefined) {
      const next = this.cursor + moves[event.key];
      const sameRow = event.key === 'ArrowLeft' || event.key === 'ArrowRight' ? Math.floor(next / cols) === Math.floor(this.cursor / cols) : true;
      if (next >= 0 && next < rows * cols && sameRow) this.cursor = next;
      this.render();
    } else if (event.key === ' ' || event.key === 'Enter') {
      this.paint(this.cursor);
    } else if (tools[event.key.toLowerCase()]) {
      this.setTool(tools[event.key.toLowerCase()]);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }

  clear() {
    if (!this.drawing) return;
    this.drawing.fill(0);
    this.known.fill(1);
    this.original = null;
    this.render();
  }

  /** A held-out picture (or a training one when the data keep none aside). */
  async take() {
    if (!this.ready()) return;
    try {
      const picture = await this.request('picture', { heldOut: true, index: this.pictureIndex });
      this.pictureIndex += 1;
      this.drawing = Float32Array.from(picture.pixels);
      this.known.fill(1);
      this.original = Float32Array.from(picture.pixels);
      $('use-source').textContent = `${picture.heldOut ? 'Held-out' : 'Training'} picture ${picture.index + 1}${picture.heldOut ? ' (the model never learned from it)' : ' (these data keep none aside)'}.`;
      this.message('');
      this.render();
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  /** The mask for the chosen unknown pixels: 1 known, 0 hidden. */
  async mask() {
    if (this.values.hide_part === 'painted') return Uint8Array.from(this.known);
    return Uint8Array.from(await this.request('halfMask', { half: this.values.hide_part }));
  }

  /** False (with a message) while there is no model to use yet. */
  ready() {
    if (this.shape) return true;
    this.message('There is no model yet: wait a moment for the lab to build one.');
    return false;
  }

  async complete() {
    if (!this.ready()) return;
    try {
      const known = await this.mask();
      if (this.values.completion_method === 'meanfield') {
        const filled = Float32Array.from(await this.request('meanField', { image: Float32Array.from(this.drawing), known }));
        this.completing = { known, original: this.original };
        this.frame({ states: new Float32Array(0), mean: filled, steps: 0, total: 0, chains: 0, done: true, meanField: true });
        this.message('');
        return;
      }
      this.seed += 1;
      await this.request('complete', {
        image: Float32Array.from(this.drawing), known, chains: this.values.completion_chains,
        steps: this.values.completion_steps, seed: this.seed,
      });
      this.setCompleting({ known, original: this.original });
      $('use-complete-result').textContent = 'Completing…';
      this.message('');
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  /** A frame of the completion under way, from the worker. */
  frame(data) {
    if (data.stopped) {
      this.setCompleting(null);
      $('use-complete-result').textContent = `Stopped: ${data.stopped}.`;
      return;
    }
    if (!this.completing || !this.shape) return;
    const [rows, cols] = this.shape;
    const m = rows * cols;
    const shown = Math.min(SHOWN_CHAINS, data.chains);
    // Tiles: the chains, then their average (grey levels), then the original if known.
    const tiles = [...Array.from({ length: shown }, (_, k) => data.states.subarray(k * m, (k + 1) * m)), data.mean];
    if (this.completing.original) tiles.push(this.completing.original);
    const pixels = new Float32Array(tiles.length * m);
    tiles.forEach((tile, k) => pixels.set(tile, k * m));
    drawImages($('use-completions'), pixels, tiles.length, rows, cols, tiles.length);
    fitTiles($('use-completions'), tiles.length);
    const hidden = this.completing.known.reduce((n, k) => n + (k ? 0 : 1), 0);
    let text = data.meanField ? 'Mean-field (50 updates): the estimate'
      : `Step ${data.steps} of ${data.total}: ${shown} of ${data.chains} chains, then their average`;
    if (this.completing.original) {
      let right = 0;
      for (let i = 0; i < m; i++) if (!this.completing.known[i] && (data.mean[i] >= 0.5) === (this.completing.original[i] >= 0.5)) right += 1;
      text += `, then the original: ${right} of ${hidden} unknown pixels right (${((100 * right) / hidden).toFixed(1)} %)`;
    } else {
      text += ` (${hidden} unknown pixels)`;
    }
    $('use-complete-result').textContent = `${text}${data.done ? '.' : '…'}`;
    if (data.done) this.setCompleting(null);
  }

  /** A completion under way (or null): the Complete button becomes Stop meanwhile. */
  setCompleting(completing) {
    this.completing = completing;
    $('use-complete').textContent = completing ? 'Stop' : 'Complete';
    $('use-complete').setAttribute('aria-pressed', String(!!completing));
  }

  async stop() {
    const steps = /^Step (\d+)/.exec($('use-complete-result').textContent)?.[1];
    this.setCompleting(null);
    try {
      await this.request('stopCompletion');
      $('use-complete-result').textContent = `Stopped${steps ? ` after ${steps} steps` : ''}: ${$('use-complete-result').textContent.replace(/…$/, '.')}`;
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  async denoise() {
    if (!this.ready()) return;
    const level = this.values.noise_level;
    if (!(level > 0)) {
      this.message('Set a noise level above 0: with no pixel flipped there is nothing to clean.');
      return;
    }
    try {
      this.seed += 1;
      const clean = Float32Array.from(this.drawing);
      const noisy = Float32Array.from(await this.request('noise', { image: clean, level, seed: this.seed }));
      const cleaned = Float32Array.from(await this.request('denoise', { noisy, level, method: this.values.denoise_method, seed: this.seed }));
      const [rows, cols] = this.shape;
      const m = rows * cols;
      const pixels = new Float32Array(3 * m);
      pixels.set(noisy, 0);
      pixels.set(cleaned, m);
      pixels.set(clean, 2 * m);
      drawImages($('use-denoised'), pixels, 3, rows, cols, 3);
      fitTiles($('use-denoised'), 3);
      const error = (estimate) => estimate.reduce((n, v, i) => n + ((v >= 0.5) !== (clean[i] >= 0.5) ? 1 : 0), 0) / m;
      $('use-denoise-result').textContent = `Noisy, cleaned (${CHOICE_LABELS[this.values.denoise_method]}) and the picture: `
        + `${(100 * error(noisy)).toFixed(1)} % of pixels wrong before, ${(100 * error(cleaned)).toFixed(1)} % after.`;
      this.message('');
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  async score() {
    if (!this.ready()) return;
    try {
      this.showPlacement(await this.request('place', { image: Float32Array.from(this.drawing) }));
      this.message('');
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  /**
   * A placement: the histogram and the sentence. Its log Z may still be under way in
   * the worker (`log_partition_pending: {id, pieces, helpers}`), and come with
   * `logPartition()`.
   */
  showPlacement(placement, note = placement.log_partition_known ? '; exact, worked out for an earlier score of this model' : '') {
    this.placement = placement;
    const logZ = placement.log_partition;
    // With log Z the axis is log p(v) (higher is likelier); without it, -F(v), which ranks the same.
    const value = (f) => (logZ === null ? -f : -f - logZ);
    drawHistogram($('use-histogram'), placement.train_free_energies.map(value), placement.held_out_free_energies.map(value), value(placement.free_energy));
    $('use-histogram').hidden = false;
    $('use-histogram-legend').hidden = false;
    const percentile = placement.percentile_train;
    const rank = `more likely than ${percentile.toFixed(0)} % of the first ${placement.train_free_energies.length} training pictures`;
    const pending = placement.log_partition_pending;
    const cores = pending && pending.helpers > 0 ? `, this worker and ${pending.helpers} helper${pending.helpers > 1 ? 's' : ''} sharing its ${pending.pieces} pieces` : '';
    const unknown = pending ? `Working out log Z exactly${cores}…` : `log Z is unknown here (${placement.log_partition_unknown}), `
      + 'so only the free energy ranks pictures: the histogram shows −F, since p(v) = exp(−F) / Z with one Z for every picture.';
    // (Its full value for the page tests, which compare runs to the bit.)
    $('use-score-result').dataset.logPartition = logZ === null ? '' : String(logZ);
    $('use-score-result').textContent = logZ === null
      ? `Free energy F = ${placement.free_energy.toFixed(1)}: ${rank}. ${unknown}`
      : `log p(v) = ${placement.log_probability.toFixed(1)} nats (F = ${placement.free_energy.toFixed(1)}, log Z = ${logZ.toFixed(1)}${note}): ${rank}.`;
  }

  /** The engine's worker was replaced: work it had under way for this panel is gone. */
  engineRestarted() {
    this.stopPlacement('the engine was restarted: score again');
  }

  /** A placement whose log Z is under way says it stopped, and why. */
  stopPlacement(why) {
    const pending = this.placement?.log_partition_pending;
    if (pending) this.logPartition({ id: pending.id, stopped: why });
  }

  /** The exact log Z of the last placement, from the worker (or why it stopped). */
  logPartition(data) {
    const placement = this.placement;
    if (placement?.log_partition_pending?.id !== data.id) return;
    if (data.stopped) {
      this.showPlacement({ ...placement, log_partition_pending: null, log_partition_unknown: data.stopped });
      return;
    }
    const helped = data.pieces - data.here;
    const note = `; exact, ${(data.ms / 1000).toFixed(2)} s${helped > 0 ? `, ${helped} of its ${data.pieces} pieces on helpers` : ''}`;
    this.showPlacement({ ...placement, log_partition_pending: null, log_partition: data.logPartition,
      log_probability: -placement.free_energy - data.logPartition }, note);
  }

  /** The pad: pixels, hidden ones hatched, the keyboard cursor outlined. */
  render() {
    if (!this.shape) return;
    const [rows, cols] = this.shape;
    const pad = $('use-pad');
    const cell = Math.max(4, Math.floor(PAD_SIZE / Math.max(rows, cols)));
    if (pad.width !== cols * cell || pad.height !== rows * cell) {
      pad.width = cols * cell;
      pad.height = rows * cell;
    }
    const context = pad.getContext('2d');
    const style = getComputedStyle(document.documentElement);
    const hiddenColour = style.getPropertyValue('--accent').trim() || '#2f6db5';
    const half = this.values.hide_part === 'painted' ? null : this.halfKnown;
    for (let i = 0; i < rows * cols; i++) {
      const x = (i % cols) * cell;
      const y = Math.floor(i / cols) * cell;
      context.fillStyle = this.drawing[i] >= 0.5 ? '#f5f5f0' : '#1b1b1b';
      context.fillRect(x, y, cell, cell);
      const hidden = this.values.hide_part === 'painted' ? !this.known[i] : half ? !half[i] : false;
      if (hidden) {
        context.globalAlpha = 0.45;
        context.fillStyle = hiddenColour;
        context.fillRect(x, y, cell, cell);
        context.globalAlpha = 1;
      }
    }
    if (document.activeElement === pad) {
      context.strokeStyle = '#e8a03a';
      context.lineWidth = 2;
      context.strokeRect((this.cursor % cols) * cell + 1, Math.floor(this.cursor / cols) * cell + 1, cell * this.values.brush - 2, cell * this.values.brush - 2);
    }
  }
}

/** Shows a row of `count` tiles at about 96 px each (never wider than the panel). */
function fitTiles(canvas, count) {
  canvas.style.width = `min(100%, ${count * 96}px)`;
  canvas.hidden = false;
}

/** Two histograms (training and held-out values) on one axis, and a line at `mark`. */
function drawHistogram(canvas, train, heldOut, mark) {
  const width = 480;
  const height = 160;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  const all = [...train, ...heldOut, mark];
  const low = Math.min(...all);
  const high = Math.max(...all);
  const bins = 40;
  const span = high - low || 1;
  const count = (values) => {
    const counts = new Array(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - low) / span) * bins))] += 1;
    return counts.map((c) => c / Math.max(1, values.length));
  };
  const series = [[count(train), 'rgba(47,109,181,0.75)'], [count(heldOut), 'rgba(217,98,43,0.65)']];
  const top = Math.max(...series.flatMap(([c]) => c), 1e-9);
  const plot = height - 22;
  for (const [counts, colour] of series) {
    context.fillStyle = colour;
    counts.forEach((c, b) => {
      const h = (c / top) * (plot - 4);
      context.fillRect((b / bins) * width + 1, plot - h, width / bins - 2, h);
    });
  }
  const x = ((mark - low) / span) * (width - 2) + 1;
  context.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--fg').trim() || '#222';
  context.fillRect(x - 1, 0, 3, plot);
  context.font = '12px system-ui, sans-serif';
  context.fillText(low.toFixed(0), 2, height - 6);
  const label = high.toFixed(0);
  context.fillText(label, width - context.measureText(label).width - 2, height - 6);
}
