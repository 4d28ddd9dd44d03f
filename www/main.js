// The page: builds the controls from the settings table, keeps every setting in the URL
// hash, sends commands to the engine's worker and draws what it sends back at the
// display's frame rate. The main thread never trains or samples.
import { SETTINGS, DATASETS, DEFAULTS, parseHash, toHash, trainingSettings, withDefaults,
  encodePatterns, decodePatterns } from './settings.js';
import { LineChart } from './charts.js';
import { drawImages, drawFilters, drawSignedImage, drawBars, drawDistribution } from './render.js';
import { DrawEditor, patternsToPixels, readDataFiles } from './datainput.js';

const $ = (id) => document.getElementById(id);
const CHAIN_SETTINGS = ['chains', 'beta', 'steps_per_frame', 'chain_start', 'chain_show'];
// Which settings need a new model, which a new optimiser for the same model, and which
// only change what the chains and the run do.
const MODEL_KEYS = new Set(['data', 'side', 'n_hidden', 'seed', 'chains']);
const TRAINING_KEYS = new Set(['algorithm', 'k', 'learning_rate', 'momentum', 'weight_decay', 'batch_size', 'persistent_chains']);
const STRIP_FRAMES = 16;
const FREE_ENERGY_CHAINS = 6;
const LABELS = {
  cd: 'CD-k', pcd: 'PCD-k', gibbs: 'Gibbs from noise', exact: 'Exact (enumeration)',
  noise: 'noise', data: 'training images', sample: 'sampled states', mean: 'probabilities p(v | h)',
};

let values = parseHash(location.hash);
let loadedData = null; // {pixels, rows, cols, count} from a file
let latest = null; // newest frame, drawn on the next animation frame
let learned = null; // newest weights, drawn on the next animation frame
let training = false;
let chainsPlaying = false;
let errorText = null; // shown until the next command
let lastChainSteps = 0;
let lastVisited = 0;
let currentShape = [1, 1]; // image shape of the model being drawn
const strip = [];

// ---- controls, built from the table -------------------------------------------------

function buildField(setting) {
  const label = document.createElement('label');
  label.title = setting.help;
  label.id = `field-${setting.id}`;
  label.append(setting.label);
  let input;
  if (setting.kind === 'choice') {
    input = document.createElement('select');
    for (const option of setting.options) {
      input.append(new Option(setting.id === 'data' ? DATASETS[option] : LABELS[option] ?? option, option));
    }
  } else {
    input = document.createElement('input');
    input.type = 'number';
    input.min = setting.min;
    input.max = setting.max;
    input.step = setting.kind === 'int' ? '1' : 'any';
    input.inputMode = setting.kind === 'int' ? 'numeric' : 'decimal';
  }
  input.id = setting.id;
  input.name = setting.id;
  input.title = setting.help;
  input.addEventListener('change', () => onSettingChange(setting.id));
  label.append(input);
  return label;
}

for (const setting of SETTINGS) {
  $(CHAIN_SETTINGS.includes(setting.id) ? 'chain-fields' : 'fields').append(buildField(setting));
}

function showValues() {
  for (const setting of SETTINGS) $(setting.id).value = String(values[setting.id]);
  $('field-side').hidden = values.data !== 'bars';
  $('field-persistent_chains').hidden = values.algorithm !== 'pcd';
  $('field-k').hidden = values.algorithm === 'exact';
  $('drawn-editor').hidden = values.data !== 'drawn';
  $('loaded-editor').hidden = values.data !== 'loaded';
}

function readValue(setting) {
  const raw = $(setting.id).value;
  return setting.kind === 'choice' ? raw : Number(raw);
}

function saveHash() {
  history.replaceState(null, '', toHash(values));
}

function onSettingChange(id) {
  const setting = SETTINGS.find((s) => s.id === id);
  const value = readValue(setting);
  if (id === 'data') {
    // A new data set brings its own defaults; the seed stays.
    values = withDefaults({ ...DEFAULTS[value], data: value, seed: values.seed, patterns: values.patterns });
  } else {
    values = { ...values, [id]: value };
  }
  if (id === 'data' || id === 'algorithm') showValues();
  saveHash();
  if (MODEL_KEYS.has(id)) configure();
  else if (TRAINING_KEYS.has(id)) send('retune', { settings: workerSettings() });
  else send('view', { settings: workerSettings() });
}

// ---- the worker ------------------------------------------------------------------------

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

function send(command, extra = {}) {
  errorText = null;
  worker.postMessage({ command, ...extra });
}

function workerSettings() {
  return { ...values, training: trainingSettings(values) };
}

function dataPayload() {
  if (values.data === 'drawn') {
    const drawn = decodePatterns(values.patterns);
    if (!drawn || drawn.patterns.length === 0) return {};
    return { pixels: patternsToPixels(drawn.patterns), shape: [drawn.side, drawn.side] };
  }
  if (values.data === 'loaded' && loadedData) {
    return { pixels: loadedData.pixels, shape: [loadedData.rows, loadedData.cols] };
  }
  return {};
}

function configure() {
  setTraining(false);
  setChainsPlaying(false);
  setStatus('Building the model…');
  send('configure', { settings: workerSettings(), ...dataPayload() });
}

function setTraining(on) {
  training = on;
  $('train').textContent = on ? 'Pause' : 'Train';
  $('train').setAttribute('aria-pressed', String(on));
}

function setChainsPlaying(on) {
  chainsPlaying = on;
  $('chains-play').textContent = on ? 'Pause chains' : 'Play chains';
  $('chains-play').setAttribute('aria-pressed', String(on));
}

function setStatus(text) {
  $('status').textContent = text;
}

worker.onmessage = ({ data }) => {
  switch (data.status) {
    case 'engine-ready':
      configure();
      return;
    case 'error':
      setTraining(false);
      errorText = `Error: ${data.message}`;
      setStatus(errorText);
      return;
    case 'saved':
      download(data.text);
      return;
    case 'loaded-model':
      values = { ...values, n_hidden: data.nHidden };
      showValues();
      saveHash();
      return;
    default:
      receiveFrame(data);
  }
};

function receiveFrame(frame) {
  currentShape = frame.shape;
  if (frame.status === 'ready') {
    clearCharts();
    strip.length = 0;
    lastChainSteps = 0;
  }
  setTraining(frame.training);
  setChainsPlaying(frame.chainsPlaying);
  if (frame.stats) charts.recon.push(frame.stats.step, [frame.stats.reconstruction_error]);
  if (frame.evaluation) recordEvaluation(frame.evaluation);
  if (frame.learned) learned = frame.learned;
  recordChains(frame);
  latest = frame;
}

// ---- charts ----------------------------------------------------------------------------

const charts = {
  recon: new LineChart($('chart-recon'), [{ label: 'reconstruction error' }],
    { title: 'Reconstruction error (mean squared, per pixel)', yLabel: 'error' }),
  likelihood: new LineChart($('chart-likelihood'), [
    { label: 'pseudo-log-likelihood' },
    { label: 'exact log-likelihood, training' },
    { label: 'exact log-likelihood, held out' },
  ], { title: 'Log-likelihood per image (nats)', yLabel: 'nats' }),
  gap: new LineChart($('chart-gap'), [{ label: 'F(held out) − F(training)' }],
    { title: 'Free-energy gap (overfitting monitor)', yLabel: 'nats' }),
  freeEnergy: new LineChart($('chart-free-energy'), [
    { label: 'mean over chains', width: 2.5 },
    ...Array.from({ length: FREE_ENERGY_CHAINS }, (_, k) => ({ label: `chain ${k + 1}`, width: 1 })),
  ], { title: 'Free energy F(v) of the chains', xLabel: 'chain step', yLabel: 'F(v)' }),
  tv: new LineChart($('chart-tv'), [{ label: 'total-variation distance' }],
    { title: 'Distance between the chains\u2019 frequencies and the exact p(v)', xLabel: 'chain step', yLabel: 'TV' }),
};

function clearCharts() {
  for (const chart of Object.values(charts)) chart.clear();
}

function recordEvaluation(e) {
  charts.likelihood.push(e.step, [e.pseudo_log_likelihood, e.log_likelihood_train, e.log_likelihood_held_out]);
  if (e.free_energy_gap !== undefined && e.free_energy_gap !== null) charts.gap.push(e.step, [e.free_energy_gap]);
  $('exact-note').textContent = e.exact_unavailable ? `Exact log-likelihood not shown: ${e.exact_unavailable}.` : '';
  $('chart-gap').hidden = e.free_energy_gap === undefined || e.free_energy_gap === null;
  $('gap-note').textContent = $('chart-gap').hidden
    ? 'The free-energy gap needs held-out data: MNIST keeps 1,000 digits aside for it.' : '';
}

function recordChains(frame) {
  const { chainSteps, freeEnergies, distribution } = frame;
  if (chainSteps < lastChainSteps) {
    charts.freeEnergy.clear();
    strip.length = 0;
  }
  if (chainSteps !== lastChainSteps || charts.freeEnergy.length === 0) {
    const mean = freeEnergies.reduce((s, f) => s + f, 0) / freeEnergies.length;
    charts.freeEnergy.push(chainSteps, [mean, ...Array.from({ length: FREE_ENERGY_CHAINS }, (_, k) => freeEnergies[k] ?? null)]);
    const [rows, cols] = frame.shape;
    strip.push(frame.samples.slice(0, rows * cols));
    if (strip.length > STRIP_FRAMES) strip.shift();
  }
  lastChainSteps = chainSteps;
  $('small-model').hidden = !distribution;
  $('small-note').textContent = distribution ? ''
    : 'The exact p(v) is shown for models with at most 16 visible units, such as 4 x 4 bars and stripes.';
  if (!distribution) return;
  if (distribution.visited < lastVisited || distribution.visited === 0) charts.tv.clear();
  if (distribution.tv !== null && distribution.visited !== lastVisited) charts.tv.push(chainSteps, [distribution.tv]);
  lastVisited = distribution.visited;
}

// ---- drawing, once per display frame ----------------------------------------------------

function describe(frame) {
  const perEpoch = frame.stepsPerEpoch || 1;
  const parts = [`step ${frame.stepsDone}`, `epoch ${(frame.stepsDone / perEpoch).toFixed(2)} of ${frame.epochs}`];
  const s = frame.stats;
  if (s) {
    parts.push(`reconstruction error ${s.reconstruction_error.toFixed(4)}`);
    if (s.samples_per_second) parts.push(`${Math.round(s.samples_per_second).toLocaleString('en')} samples/s`);
    parts.push(`update/weight ${s.update_ratio.toExponential(1)}`);
  }
  const state = { ready: 'Ready.', training: 'Training.', paused: 'Paused.', finished: 'Run complete.',
    sampling: 'Training paused; chains sampling.' }[frame.status] ?? '';
  return `${state} ${parts.join(' · ')}`;
}

function draw() {
  if (latest) {
    const frame = latest;
    latest = null;
    const [rows, cols] = frame.shape;
    const count = frame.samples.length / (rows * cols);
    drawImages($('samples'), frame.samples, count, rows, cols);
    if (strip.length) drawImages($('strip'), strip.flatMap((s) => Array.from(s)), strip.length, rows, cols, strip.length);
    if (frame.distribution) drawDistribution($('distribution'), frame.distribution.exact, frame.distribution.empirical);
    const tv = frame.distribution?.tv;
    $('chain-status').textContent = `chain step ${frame.chainSteps}` + (typeof tv === 'number'
      ? ` · total-variation distance ${tv.toFixed(3)} over ${frame.distribution.visited.toLocaleString('en')} visited states` : '');
    $('status').textContent = errorText ?? describe(frame);
    const perEpoch = frame.stepsPerEpoch || 1;
    $('epoch-progress').value = (frame.stepsDone % perEpoch) / perEpoch;
    $('run-progress').value = Math.min(1, frame.stepsDone / (perEpoch * frame.epochs));
  }
  if (learned) {
    drawLearned(learned);
    learned = null;
  }
  requestAnimationFrame(draw);
}

function drawLearned(model) {
  const [rows, cols] = currentShape;
  const m = rows * cols;
  drawFilters($('filters'), model.weights, m, model.nHidden, rows, cols);
  drawBars($('activations'), model.hiddenMean);
  drawSignedImage($('visible-bias'), model.visibleBias, rows, cols);
  drawBars($('hidden-bias'), model.hiddenBias, { signed: true });
}

// ---- buttons, keys, files ----------------------------------------------------------------

// Commands are queued by the worker behind any model still being built, so the
// buttons work at once, even right after a setting changed.
function toggleTraining() {
  send(training ? 'pause' : 'train');
  setTraining(!training);
}

function toggleChains() {
  send('chains', { play: !chainsPlaying });
  setChainsPlaying(!chainsPlaying);
}

function download(text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const link = Object.assign(document.createElement('a'), { href: url, download: `rbm-${values.data}-${values.n_hidden}h.json` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

$('train').addEventListener('click', toggleTraining);
$('step').addEventListener('click', () => { setTraining(false); send('step'); });
$('reset').addEventListener('click', configure);
$('save').addEventListener('click', () => send('save'));
$('load-model').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  setTraining(false);
  send('load', { text: await file.text(), settings: workerSettings(), ...dataPayload() });
  event.target.value = '';
});
$('chains-play').addEventListener('click', toggleChains);
$('chains-step').addEventListener('click', () => { setChainsPlaying(false); send('chainStep'); });
$('chains-restart').addEventListener('click', () => send('restartChains'));

document.addEventListener('keydown', (event) => {
  if (event.target.closest('input, select, textarea, .draw-grid') || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = { ' ': toggleTraining, s: () => $('step').click(), r: configure, c: toggleChains, n: () => $('chains-step').click() };
  const action = actions[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
});

window.addEventListener('hashchange', () => {
  values = parseHash(location.hash);
  showValues();
  restoreDrawn();
  configure();
});

const editor = new DrawEditor({
  grid: $('draw-grid'),
  list: $('draw-list'),
  sideInput: $('draw-side'),
  onChange: (count) => { $('draw-use').disabled = count === 0; },
});
$('draw-side').addEventListener('change', () => editor.setSide(Number($('draw-side').value)));
$('draw-add').addEventListener('click', () => editor.add());
$('draw-clear').addEventListener('click', () => editor.clear());
$('draw-remove').addEventListener('click', () => editor.removeLast());
$('draw-use').addEventListener('click', () => {
  values = { ...values, patterns: encodePatterns(editor.side, editor.patterns) };
  values.batch_size = Math.min(values.batch_size, editor.patterns.length);
  showValues();
  saveHash();
  configure();
});

function restoreDrawn() {
  const drawn = decodePatterns(values.patterns);
  if (drawn) editor.load(drawn.side, drawn.patterns);
}

$('load-file').addEventListener('change', async (event) => {
  try {
    loadedData = await readDataFiles([...event.target.files], Number($('load-rows').value), Number($('load-cols').value));
    $('load-status').textContent = `${loadedData.count} images of ${loadedData.rows} x ${loadedData.cols} loaded.`;
    values.batch_size = Math.min(values.batch_size, loadedData.count);
    showValues();
    saveHash();
    configure();
  } catch (error) {
    $('load-status').textContent = `Could not use the file: ${error.message}`;
  }
});

showValues();
restoreDrawn();
saveHash();
requestAnimationFrame(draw);
