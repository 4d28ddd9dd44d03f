// Every setting of the lab, declared as data: its control, its default per data set and
// the sentence shown on hover. Ranges are not here: they come from the engine's one
// table of ranges (src/limits.rs, its page column), which the worker sends at start-up
// (applyLimits), so the form, the hash reader and the engine's checks agree. The URL
// hash holds every setting, so a copied address reproduces the run (same seed, same
// first samples).

export const DATASETS = {
  mnist: 'MNIST digits (9,000 binarised, 1,000 held out)',
  bars: 'Bars and stripes',
  drawn: 'Draw your own',
  loaded: 'Load your own (CSV or PNG)',
};

// kind: 'int' | 'float' | 'choice'; key: the name in the URL hash.
export const SETTINGS = [
  { id: 'data', key: 'data', kind: 'choice', options: Object.keys(DATASETS), label: 'Data',
    help: 'What the model learns from. Picking one also picks sensible defaults for it.' },
  { id: 'side', key: 'side', kind: 'int', label: 'Side',
    help: 'Bars and stripes: images are side x side pixels; every row or every column pattern is one image.' },
  { id: 'n_hidden', key: 'hidden', kind: 'int', label: 'Hidden units',
    help: 'Number of hidden units: the feature detectors. More can model more, but train slower.' },
  { id: 'algorithm', key: 'algo', kind: 'choice', options: ['cd', 'pcd', 'gibbs', 'exact', 'tempering'], label: 'Algorithm',
    help: 'How the model term of the gradient is estimated: CD-k starts chains at the data, PCD-k keeps chains between updates, Gibbs starts fresh chains from noise, Exact enumerates (smaller layer at most 20 units), Tempering keeps chains at several temperatures that exchange states (parallel tempering).' },
  { id: 'k', key: 'k', kind: 'int', label: 'Gibbs steps k',
    help: 'Gibbs steps per update for CD-k, PCD-k and Gibbs. More steps: a less biased gradient, slower updates.' },
  { id: 'learning_rate', key: 'lr', kind: 'float', label: 'Learning rate',
    help: 'Step size of gradient ascent. Too large and training diverges (the lab then stops and keeps the last good model).' },
  { id: 'momentum', key: 'mom', kind: 'float', label: 'Momentum',
    help: 'Fraction of the previous update added to the next: smooths and speeds up learning.' },
  { id: 'weight_decay', key: 'wd', kind: 'float', label: 'Weight decay',
    help: 'L2 penalty on the weights: pulls them towards zero to keep the model smooth.' },
  { id: 'batch_size', key: 'batch', kind: 'int', label: 'Batch size',
    help: 'Training examples per update (at most the number of examples).' },
  { id: 'persistent_chains', key: 'pchains', kind: 'int', label: 'Persistent chains',
    help: 'PCD and tempering: number of chains kept between updates, per temperature (0 means one per batch row).' },
  { id: 'decay_epochs', key: 'decay', kind: 'int', label: 'Rate decay (epochs)',
    help: 'The learning rate falls linearly from Learning rate to Final rate over this many epochs, then stays (0: constant).' },
  { id: 'final_learning_rate', key: 'lrfinal', kind: 'float', label: 'Final rate',
    help: 'Where the decaying learning rate ends (used when Rate decay is above 0).' },
  { id: 'centring', key: 'centre', kind: 'choice', options: ['off', 'on'], label: 'Centring',
    help: 'Centred gradients (Melchior et al., 2016): the gradient taken with the pixels and hidden units measured from their means (offsets: the data\'s pixel means, and a moving average of the hidden units\' activation). Same model, better-conditioned steps.' },
  { id: 'sparsity_cost', key: 'sparsecost', kind: 'float', label: 'Sparsity cost',
    help: 'Pulls each hidden unit\'s mean activation on the data towards the sparsity target with this weight (Hinton\'s guide, section 11; 0: off).' },
  { id: 'sparsity_target', key: 'sparse', kind: 'float', label: 'Sparsity target',
    help: 'The mean activation each hidden unit is pulled towards when the sparsity cost is above 0.' },
  { id: 'temperatures', key: 'temps', kind: 'int', label: 'Temperatures',
    help: 'Tempering only: inverse temperatures from 1 down to the lowest β; the hot chains cross between modes and pass what they find down by exchanges.' },
  { id: 'beta_min', key: 'betamin', kind: 'float', label: 'Lowest β',
    help: 'Tempering only: the hottest chains sample exp(-β E) at this β (0: uniform; near 1: hardly hotter than the model).' },
  { id: 'epochs', key: 'epochs', kind: 'int', label: 'Epochs',
    help: 'Length of the run in passes through the training set; training pauses at the end.' },
  { id: 'seed', key: 'seed', kind: 'int', label: 'Seed',
    help: 'Seeds the initial weights, the minibatch order and every sample: the same seed and settings give the same run.' },
  { id: 'ais_runs', key: 'aisruns', kind: 'int', label: 'AIS runs',
    help: 'When the exact log-likelihood is out of reach (more than about 14 hidden units on MNIST), annealed importance sampling estimates it: this many independent runs; more runs, a smaller error bar.' },
  { id: 'ais_temperatures', key: 'aistemps', kind: 'int', label: 'AIS temperatures',
    help: 'The intermediate distributions each AIS run passes through between a model of independent pixels and the RBM; more temperatures, a more accurate and slower estimate.' },
  { id: 'chains', key: 'chains', kind: 'int', label: 'Chains',
    help: 'Number of Gibbs chains animated in the Chains panel.' },
  { id: 'beta', key: 'beta', kind: 'float', label: 'Inverse temperature β',
    help: 'The chains sample p(v,h) ∝ exp(-β E): β < 1 flattens the distribution (hotter), β > 1 sharpens it.' },
  { id: 'steps_per_frame', key: 'spf', kind: 'int', label: 'Steps per frame',
    help: 'Gibbs steps the chains take between two pictures.' },
  { id: 'chain_start', key: 'start', kind: 'choice', options: ['noise', 'data'], label: 'Chains start from',
    help: 'Where the chains restart: uniform random pixels, or random training images.' },
  { id: 'chain_show', key: 'show', kind: 'choice', options: ['sample', 'mean'], label: 'Show',
    help: 'Draw the sampled binary states, or the mean-field probabilities p(v | h) they were drawn from.' },
  { id: 'workers', key: 'workers', kind: 'int', label: 'Workers',
    help: 'Web workers each update of CD, PCD and Gibbs is split over (exact and tempering use one). The default is this machine\'s cores, at most 8; it is part of the address, because the same seed gives the same run only with the same number of workers.' },
  { id: 'maths', key: 'maths', kind: 'choice', options: ['deterministic', 'fast'], label: 'Maths',
    help: 'Deterministic: the same seed and settings give the same run to the bit in every browser and natively. Fast: dense matrix products with fused multiply-adds (relaxed SIMD), where the browser has them; the last bits may then differ between machines. Products with the binary states of CD, PCD and Gibbs only add, so they gain little. Changing it starts the engine again and builds the model afresh.' },
  { id: 'pace', key: 'pace', kind: 'choice', options: ['0', '100', '20', '5', '1'], label: 'Pace', panel: 'train',
    help: 'Updates per second: 0 is as fast as possible; slow a small run down to watch it learn.' },
  // The critic panel's own settings (built by critic.js, not the lab's form).
  { id: 'smoothing_k', key: 'ck', kind: 'float', label: 'Smoothing k', panel: 'critic',
    help: 'Add-k smoothing: every count is raised by k, so every word stays possible after every two words. Small k trusts the counts; large k flattens the tables.' },
  { id: 'temperature', key: 'temp', kind: 'float', label: 'Temperature', panel: 'critic',
    help: 'How the critics write when sampled: 1 follows the tables, below 1 picks their favourite words more often, above 1 wanders.' },
  { id: 'context', key: 'ctx', kind: 'text', label: 'Context', panel: 'critic',
    help: 'The two words whose table is shown; leave one empty for the start of a review.' },
  // The "use the model" panel's settings (built by usepanel.js).
  { id: 'hide_part', key: 'hide', kind: 'choice', options: ['top', 'bottom', 'left', 'right', 'painted'], label: 'Unknown pixels', panel: 'use',
    help: 'Which pixels the model must fill in: a half of the picture, or the pixels painted with the Hide tool.' },
  { id: 'completion_method', key: 'fill', kind: 'choice', options: ['gibbs', 'meanfield'], label: 'Method', panel: 'use',
    help: 'Clamped Gibbs sampling (chains, animated, averaged) or mean-field updates (deterministic).' },
  { id: 'completion_chains', key: 'cchains', kind: 'int', label: 'Chains', panel: 'use',
    help: 'Clamped Gibbs chains run side by side; their average is the completion.' },
  { id: 'completion_steps', key: 'csteps', kind: 'int', label: 'Gibbs steps', panel: 'use',
    help: 'Steps each chain takes; the last three quarters are averaged.' },
  { id: 'noise_level', key: 'noise', kind: 'float', label: 'Noise', panel: 'use',
    help: 'The fraction of pixels flipped before cleaning (the cleaner knows this rate).' },
  { id: 'denoise_method', key: 'clean', kind: 'choice', options: ['meanfield', 'anneal'], label: 'Cleaning', panel: 'use',
    help: 'Mean-field updates (deterministic), or Gibbs sampling while the temperature falls (annealing).' },
  { id: 'brush', key: 'brush', kind: 'int', label: 'Brush size', panel: 'use',
    help: 'Side of the square the brush, eraser and Hide tool paint, in pixels.' },
];

/** The default number of workers: this machine's cores, at most 8 (src/shard.rs allows 16). */
export const DEFAULT_WORKERS = Math.max(1, Math.min(8, Number(globalThis.navigator?.hardwareConcurrency) || 1));

const COMMON = { workers: DEFAULT_WORKERS, k: 1, momentum: 0.5, weight_decay: 0.0001, persistent_chains: 0, temperatures: 4, beta_min: 0.5,
  decay_epochs: 0, final_learning_rate: 0.001, centring: 'off', sparsity_cost: 0, sparsity_target: 0.1, seed: 1, beta: 1,
  steps_per_frame: 1, maths: 'deterministic', chain_start: 'noise', chain_show: 'sample', side: 4, pace: '0', ais_runs: 50, ais_temperatures: 500,
  smoothing_k: 0.01, temperature: 0.5, context: 'the plot',
  hide_part: 'top', completion_method: 'gibbs', completion_chains: 8, completion_steps: 200, noise_level: 0.1, denoise_method: 'meanfield', brush: 2 };

export const DEFAULTS = {
  // PCD-1 at rate 0.01 with 100 persistent chains: the chains show 9 or 10 of the 10
  // digit classes after 1,000 to 5,000 updates (seeds 1 to 3); CD-1 at 0.05, the old
  // default, mostly one or two (tests/defaults.rs measures it, the README gives figures).
  mnist: { ...COMMON, n_hidden: 100, algorithm: 'pcd', learning_rate: 0.01, batch_size: 100, persistent_chains: 100,
    epochs: 50, chains: 64 },
  // PCD-5 at rate 0.02 reached -3.99 nats on 4 x 4 (the optimum is log 1/30 = -3.40);
  // PCD-1 at 0.05 oscillated between -4.8 and -9 (measured natively, seed 1, 9,000 updates).
  bars: { ...COMMON, n_hidden: 16, algorithm: 'pcd', k: 5, learning_rate: 0.02, weight_decay: 0, batch_size: 10,
    persistent_chains: 100, epochs: 3000, chains: 64 },
  drawn: { ...COMMON, n_hidden: 16, algorithm: 'cd', learning_rate: 0.1, weight_decay: 0, batch_size: 4, epochs: 2000, chains: 36 },
  loaded: { ...COMMON, n_hidden: 64, algorithm: 'cd', learning_rate: 0.05, batch_size: 20, epochs: 50, chains: 64 },
};

/**
 * Named starting points, one click away: each is a data set's defaults with a few
 * settings changed, and sets the address.
 */
export const PRESETS = [
  { name: 'Quick digits', title: 'The lab\'s MNIST defaults: PCD-1, 100 hidden units, rate 0.01; digits within seconds',
    values: { data: 'mnist' } },
  { name: 'Theano tutorial', title: 'The deeplearning.net RBM tutorial: 500 hidden units, PCD-15 with 20 chains, rate 0.1, batch 20, 15 epochs',
    values: { data: 'mnist', n_hidden: 500, algorithm: 'pcd', k: 15, learning_rate: 0.1, momentum: 0, weight_decay: 0,
      batch_size: 20, persistent_chains: 20, epochs: 15 } },
  { name: 'scikit-learn defaults', title: 'BernoulliRBM\'s defaults: 256 hidden units, PCD-1 (one chain per batch row), rate 0.1, batch 10, 10 epochs, no momentum',
    values: { data: 'mnist', n_hidden: 256, algorithm: 'pcd', k: 1, learning_rate: 0.1, momentum: 0, weight_decay: 0,
      batch_size: 10, persistent_chains: 0, epochs: 10 } },
  { name: 'CD-1, as in Hinton\'s guide', title: 'CD-1 at rate 0.05 with momentum 0.5: the classic recipe (the lab\'s first default)',
    values: { data: 'mnist', algorithm: 'cd', learning_rate: 0.05, persistent_chains: 0 } },
  { name: 'Best at 20 hidden units', title: 'Centred PCD-1 with 100 chains, rate 0.1 falling to 0.001 over the 10 epochs: 21.7 nats above CD-1 on held-out digits at the same cost (README)',
    values: { data: 'mnist', n_hidden: 20, algorithm: 'pcd', k: 1, persistent_chains: 100, learning_rate: 0.1, decay_epochs: 10, final_learning_rate: 0.001, centring: 'on', epochs: 10 } },
  { name: 'Bars and stripes', title: '4 x 4 bars and stripes, small enough for the exact p(v) beside the chains',
    values: { data: 'bars' } },
];

/** Settings for a data set: its defaults overridden by `values`. */
export function withDefaults(values) {
  const data = DATASETS[values.data] ? values.data : 'mnist';
  return { ...DEFAULTS[data], ...values, data };
}

/** Range rows by id, from the engine (applyLimits); the draw grid's side is one too. */
export const LIMITS = {};

/** Takes the engine's table of ranges: `[{id, integer, page: {min, max, ...}, page_allowed}]`. */
export function applyLimits(table) {
  for (const row of table) LIMITS[row.id] = row;
  for (const setting of SETTINGS) {
    const row = LIMITS[setting.id];
    if (setting.kind !== 'choice' && setting.kind !== 'text' && !row) throw new Error(`the engine has no range for ${setting.id}`);
    if (row) Object.assign(setting, { min: row.page.min, max: row.page.max, integer: row.integer, allowed: row.page_allowed });
  }
}

/**
 * Why `value` is not allowed for numeric setting `id` on the page, or null when it is.
 * The same test and words as the engine's `limits::check` (page column).
 */
export function rangeProblem(id, value) {
  const row = LIMITS[id];
  if (!row) return null;
  const { page } = row;
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value);
  if (typeof value !== 'number' || Number.isNaN(value)) return `${id} is empty or not a number: enter a number ${row.page_allowed}`;
  if (!Number.isFinite(value)) return `${id} = ${shown} is not allowed: a finite number ${row.page_allowed}`;
  if (row.integer && !Number.isInteger(value)) return `${id} = ${shown} is not allowed: a whole number ${row.page_allowed}`;
  const above = page.min_open ? value > page.min : value >= page.min;
  const below = page.max_open ? value < page.max : value <= page.max;
  return above && below ? null : `${id} = ${shown} is not allowed: ${row.page_allowed}`;
}

/**
 * Reads the hash (`#data=mnist&hidden=100&...`). Returns `{values, problems}`: a value
 * outside its range, a choice that does not exist or drawn patterns that do not
 * decode are left out (the data set's default is used) and named in `problems`.
 */
export function parseHash(hash) {
  let params;
  try {
    params = new URLSearchParams(String(hash).replace(/^#/, ''));
  } catch {
    return { values: withDefaults({}), problems: ['the address could not be read; using the defaults'] };
  }
  const values = {};
  const problems = [];
  for (const setting of SETTINGS) {
    const raw = params.get(setting.key);
    if (raw === null) continue;
    if (setting.kind === 'choice') {
      if (setting.options.includes(raw)) values[setting.id] = raw;
      else problems.push(`${setting.key} = ${clip(raw)} is not one of ${setting.options.join(', ')}`);
    } else if (setting.kind === 'text') {
      const problem = contextProblem(raw);
      if (problem) problems.push(`${setting.key} = ${clip(raw)}: ${problem}`);
      else values[setting.id] = raw.trim().split(/\s+/).join(' ');
    } else {
      // Number('') is 0, not "nothing"; Number('0x10') is 16; -0 is 0 (it would not
      // survive a round trip). Only decimal numbers are read.
      const decimal = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(raw);
      const number = decimal ? Number(raw) + 0 : NaN;
      const problem = rangeProblem(setting.id, number);
      if (problem) problems.push(problem.replace(/^\S+ (is empty|=)/, `${setting.key} $1`).replace(/= NaN/, `= ${clip(raw)}`));
      else values[setting.id] = number;
    }
  }
  const drawn = params.get('patterns');
  if (drawn !== null) {
    const decoded = decodePatterns(drawn);
    if (decoded.error) problems.push(`the drawn patterns in the address cannot be used: ${decoded.error}`);
    else values.patterns = drawn;
  }
  return { values: withDefaults(values), problems };
}

/** Why `text` is not a context (up to two words, or empty for the start), or null. */
export function contextProblem(text) {
  const words = String(text).trim().split(/\s+/).filter(Boolean);
  if (words.length > 2) return 'a context is at most two words';
  if (words.some((w) => !/^[\p{L}\p{N}'-]{1,40}$/u.test(w))) return 'a context word is letters, digits, apostrophes or hyphens';
  return null;
}

function clip(text) {
  const shown = String(text);
  return JSON.stringify(shown.length > 24 ? `${shown.slice(0, 24)}…` : shown);
}

/** The hash for `values`: every setting, in declaration order. */
export function toHash(values) {
  const params = new URLSearchParams();
  for (const setting of SETTINGS) params.set(setting.key, String(values[setting.id]));
  if (values.data === 'drawn' && values.patterns) params.set('patterns', values.patterns);
  return `#${params.toString()}`;
}

/** The engine's training settings. */
export function trainingSettings(values) {
  return {
    n_hidden: values.n_hidden,
    algorithm: values.algorithm,
    k: values.k,
    learning_rate: values.learning_rate,
    momentum: values.momentum,
    weight_decay: values.weight_decay,
    batch_size: values.batch_size,
    persistent_chains: values.persistent_chains,
    temperatures: values.temperatures,
    beta_min: values.beta_min,
    decay_epochs: values.decay_epochs,
    final_learning_rate: values.final_learning_rate,
    sparsity_target: values.sparsity_target,
    sparsity_cost: values.sparsity_cost,
    centring: values.centring === 'on',
    seed: values.seed,
  };
}

// Drawn patterns travel in the hash as `SIDE:` then one base64url bit string per
// pattern, joined by dots (bit i of a pattern is pixel i, row by row).
export function encodePatterns(side, patterns) {
  const encoded = patterns.map((pixels) => {
    const bytes = new Uint8Array(Math.ceil(pixels.length / 8));
    pixels.forEach((on, i) => { if (on) bytes[i >> 3] |= 1 << (7 - (i & 7)); });
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  });
  return `${side}:${encoded.join('.')}`;
}

/** Most drawn patterns the hash may carry. */
export const MAX_PATTERNS = 500;

/**
 * `{side, patterns}` from the hash's text, or `{error}` saying what is wrong with it:
 * never throws, whatever the text.
 */
export function decodePatterns(text) {
  const match = /^(\d{1,3}):([A-Za-z0-9_.-]*)$/.exec(typeof text === 'string' ? text : '');
  if (!match) return { error: 'expected SIDE:PATTERN.PATTERN… (base64url bits)' };
  const side = Number(match[1]);
  const range = LIMITS.draw_side?.page ?? { min: 2, max: 16 };
  if (!(side >= range.min && side <= range.max)) return { error: `the grid side ${side} is not between ${range.min} and ${range.max}` };
  const chunks = match[2].split('.').filter(Boolean);
  if (chunks.length > MAX_PATTERNS) return { error: `${chunks.length} patterns are more than ${MAX_PATTERNS}` };
  const bytes = Math.ceil((side * side) / 8);
  const patterns = [];
  for (const [k, chunk] of chunks.entries()) {
    let binary;
    try {
      binary = atob(chunk.replace(/-/g, '+').replace(/_/g, '/'));
    } catch {
      return { error: `pattern ${k + 1} is not base64url` };
    }
    if (binary.length !== bytes) return { error: `pattern ${k + 1} has ${binary.length} bytes; a ${side} x ${side} grid needs ${bytes}` };
    patterns.push(Array.from({ length: side * side }, (_, i) => (binary.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1));
  }
  return { side, patterns };
}
