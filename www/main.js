// The page: reads the controls, talks to the engine's worker, and draws what it sends
// at the display's frame rate. The main thread never trains or samples.

const DEFAULTS = {
  mnist: { n_hidden: 100, algorithm: 'cd', learning_rate: 0.05, batch_size: 100, chains: 64 },
  bars: { n_hidden: 16, algorithm: 'cd', learning_rate: 0.1, batch_size: 10, chains: 64 },
};
const $ = (id) => document.getElementById(id);
const controls = ['dataset', 'n_hidden', 'algorithm', 'learning_rate', 'seed'];

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let latest = null; // the newest frame from the worker, drawn on the next animation frame
let running = false;
let configured = false;

function settings() {
  const dataset = $('dataset').value;
  const defaults = DEFAULTS[dataset];
  return {
    dataset,
    side: 4,
    chains: defaults.chains,
    training: {
      n_hidden: Number($('n_hidden').value),
      algorithm: $('algorithm').value,
      k: 1,
      learning_rate: Number($('learning_rate').value),
      momentum: 0.5,
      weight_decay: 1e-4,
      batch_size: defaults.batch_size,
      seed: Number($('seed').value),
    },
  };
}

function applyDefaults(dataset) {
  const d = DEFAULTS[dataset];
  $('n_hidden').value = d.n_hidden;
  $('algorithm').value = d.algorithm;
  $('learning_rate').value = d.learning_rate;
  if ($('seed').value === '') $('seed').value = 1;
}

function configure() {
  configured = false;
  setRunning(false);
  worker.postMessage({ command: 'configure', settings: settings() });
}

function setRunning(on) {
  running = on;
  $('train').textContent = on ? 'Pause' : 'Train';
  $('train').setAttribute('aria-pressed', String(on));
}

function toggleTraining() {
  if (!configured) return;
  setRunning(!running);
  worker.postMessage({ command: running ? 'start' : 'pause' });
}

worker.onmessage = ({ data }) => {
  if (data.status === 'loaded') {
    configure();
    return;
  }
  if (data.status === 'error') {
    setRunning(false);
    $('status').textContent = `Error: ${data.message}`;
    return;
  }
  if (data.status === 'ready') configured = true;
  latest = data;
};

function drawSamples(frame) {
  const canvas = $('samples');
  const [rows, cols] = frame.shape;
  const count = frame.samples.length / (rows * cols);
  const grid = Math.ceil(Math.sqrt(count));
  const gap = 1;
  const width = grid * (cols + gap) + gap;
  const height = grid * (rows + gap) + gap;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const image = new ImageData(width, height);
  image.data.fill(40);
  for (let c = 0; c < count; c++) {
    const x0 = gap + (c % grid) * (cols + gap);
    const y0 = gap + Math.floor(c / grid) * (rows + gap);
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const value = frame.samples[c * rows * cols + r * cols + q] * 255;
        const at = ((y0 + r) * width + x0 + q) * 4;
        image.data[at] = image.data[at + 1] = image.data[at + 2] = value;
      }
    }
  }
  for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
  canvas.getContext('2d').putImageData(image, 0, 0);
}

function describe(frame) {
  const epoch = frame.stepsPerEpoch ? (frame.stepsDone / frame.stepsPerEpoch).toFixed(2) : '0';
  const parts = [`step ${frame.stepsDone}`, `epoch ${epoch}`];
  const s = frame.stats;
  if (s) {
    parts.push(`reconstruction error ${s.reconstruction_error.toFixed(4)}`);
    if (s.slice_ms > 0) {
      const perSecond = (s.updates * settings().training.batch_size * 1000) / s.slice_ms;
      parts.push(`${Math.round(perSecond).toLocaleString('en')} samples/s`);
    }
  }
  return `${frame.status === 'ready' ? 'Ready. ' : ''}${parts.join(' · ')}`;
}

function frame() {
  if (latest) {
    drawSamples(latest);
    $('status').textContent = describe(latest);
    latest = null;
  }
  requestAnimationFrame(frame);
}

$('dataset').addEventListener('change', () => {
  applyDefaults($('dataset').value);
  configure();
});
for (const id of controls.slice(1)) $(id).addEventListener('change', configure);
$('train').addEventListener('click', toggleTraining);
$('step').addEventListener('click', () => {
  setRunning(false);
  worker.postMessage({ command: 'step' });
});
$('reset').addEventListener('click', configure);
document.addEventListener('keydown', (event) => {
  if (event.target.closest('input, select, textarea') || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === ' ') {
    event.preventDefault();
    toggleTraining();
  } else if (event.key === 's') {
    $('step').click();
  } else if (event.key === 'r') {
    configure();
  }
});

applyDefaults($('dataset').value);
requestAnimationFrame(frame);
