// The module worker that owns the engine: the dataset, the trainer and the chains.
// Messages in: {command, ...}; messages out: {status, ...}. Work is done in slices of
// about SLICE_MS so that a pause or a new setting takes effect within a frame or two.
import init, { Dataset, Trainer, Chains } from './pkg/rbm_lab.js';

const SLICE_MS = 30;
let wasm = null;
let state = null; // {settings, dataset, trainer, chains}
let running = false;
let mnistBytes = null;

async function loadDataset(settings) {
  if (settings.dataset === 'mnist') {
    if (!mnistBytes) {
      const response = await fetch(new URL('./data/mnist.bin', import.meta.url));
      if (!response.ok) throw new Error(`could not load the MNIST digits (HTTP ${response.status}); run ./lab serve, which builds them`);
      mnistBytes = new Uint8Array(await response.arrayBuffer());
    }
    return Dataset.fromPacked(mnistBytes, 'train');
  }
  return Dataset.barsAndStripes(settings.side);
}

function freeState() {
  if (!state) return;
  state.chains.free();
  state.trainer.free();
  state.dataset.free();
  state = null;
}

async function configure(settings) {
  running = false;
  const dataset = await loadDataset(settings);
  let trainer;
  try {
    trainer = new Trainer(settings.training, dataset);
  } catch (error) {
    dataset.free();
    throw error;
  }
  const model = trainer.model();
  const chains = new Chains(model, settings.chains, settings.training.seed >>> 0);
  model.free();
  freeState();
  state = { settings, dataset, trainer, chains };
  post('ready', null);
}

// Copies (never views) leave the worker: the buffers are transferred to the page.
function post(status, stats) {
  const { trainer, chains, dataset } = state;
  const nVisible = dataset.rows * dataset.cols;
  const samples = new Float32Array(wasm.memory.buffer, chains.visiblePtr(), chains.len() * nVisible).slice();
  postMessage(
    {
      status,
      stats,
      stepsDone: trainer.stepsDone,
      stepsPerEpoch: trainer.stepsPerEpoch,
      shape: [dataset.rows, dataset.cols],
      samples,
    },
    [samples.buffer],
  );
}

function trainSlice(budgetMs) {
  const started = performance.now();
  let stats;
  let updates = 0;
  do {
    stats = state.trainer.step();
    updates += 1;
  } while (performance.now() - started < budgetMs);
  state.chains.stepWith(state.trainer, 1, 1.0);
  return { ...stats, updates, slice_ms: performance.now() - started };
}

function loop() {
  if (!running || !state) return;
  try {
    post('training', trainSlice(SLICE_MS));
  } catch (error) {
    running = false;
    postMessage({ status: 'error', message: String(error.message ?? error) });
    return;
  }
  setTimeout(loop, 0);
}

const handlers = {
  async configure({ settings }) {
    await configure(settings);
  },
  start() {
    if (!state || running) return;
    running = true;
    setTimeout(loop, 0);
  },
  pause() {
    running = false;
    if (state) post('paused', null);
  },
  step() {
    running = false;
    if (state) post('paused', trainSlice(0));
  },
};

// Messages are handled one at a time, in order, after the module has loaded.
let queue = init().then((exports) => {
  wasm = exports;
  postMessage({ status: 'loaded' });
});
onmessage = ({ data }) => {
  queue = queue
    .then(() => handlers[data.command]?.(data))
    .catch((error) => {
      running = false;
      postMessage({ status: 'error', message: String(error.message ?? error) });
    });
};
