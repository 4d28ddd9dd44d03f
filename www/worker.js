// The module worker that owns the engine: the data, the trainer and the chains.
// Messages in: {command, ...}; messages out: {status, ...}. Work runs in slices of about
// SLICE_MS, so a pause or a new setting takes effect within a frame or two. Everything
// posted out is a copy (typed arrays are transferred), never a view into wasm memory.
import init, { Dataset, Trainer, Chains, Rbm } from './pkg/rbm_lab.js';

const SLICE_MS = 25;
const EVALUATE_EVERY_MS = 250;
const LEARNED_EVERY_MS = 400;
/** The exact p(v) beside the chains is shown up to 2^16 visible states. */
const MAX_EXACT_VISIBLE = 16;
/** Most probable states drawn in the distribution chart. */
const TOP_STATES = 24;
/**
 * Settings whose single update would take longer than this are refused: the worker
 * could not answer a pause until the update ends. Estimated at a conservative 10 GFLOP/s
 * (this engine measured about 18 in Chromium; see README, Benchmarks).
 */
const MAX_UPDATE_SECONDS = 2;
const FLOPS_PER_SECOND = 1e10;

let wasm = null;
let lab = null; // {settings, train, heldOut, trainer, chains, shape, m}
let training = false;
let chainsPlaying = false;
let lastEvaluation = -Infinity;
let lastLearned = -Infinity;
let mnistBytes = null;
let modelVersion = 0;
let evaluatedVersion = -1;
let learnedVersion = -1;
// Chain steps since the chains (re)started; the visit counts below restart whenever
// the model, β or the chains change, since they estimate one fixed distribution.
let chainSteps = 0;
let visits = null;
let visitTotal = 0;
let exact = null; // {version, beta, p}

async function fetchMnist() {
  if (!mnistBytes) {
    const response = await fetch(new URL('./data/mnist.bin', import.meta.url));
    if (!response.ok) throw new Error(`could not load the MNIST digits (HTTP ${response.status}); ./lab serve builds them`);
    mnistBytes = new Uint8Array(await response.arrayBuffer());
  }
  return mnistBytes;
}

async function loadData(message) {
  const { settings } = message;
  if (settings.data === 'mnist') {
    const bytes = await fetchMnist();
    return { train: Dataset.fromPacked(bytes, 'train'), heldOut: Dataset.fromPacked(bytes, 'test') };
  }
  if (settings.data === 'bars') return { train: Dataset.barsAndStripes(settings.side), heldOut: null };
  if (!message.pixels) {
    throw new Error(settings.data === 'drawn'
      ? 'no patterns drawn yet: draw one or more on the grid and press "Train on these"'
      : 'no file loaded yet: choose a CSV or PNG file in the Data panel');
  }
  return { train: Dataset.fromPixels(message.pixels, message.shape[0], message.shape[1]), heldOut: null };
}

function freeLab() {
  if (!lab) return;
  for (const handle of [lab.chains, lab.trainer, lab.train, lab.heldOut]) handle?.free();
  lab = null;
}

function install(settings, data, trainer) {
  const chains = Chains.forTrainer(trainer, settings.chains, (settings.seed + 1) >>> 0);
  freeLab();
  lab = {
    settings, ...data, trainer, chains, stepOffset: 0, shape: [data.train.rows, data.train.cols], m: trainer.nVisible,
  };
  training = false;
  chainsPlaying = false;
  modelVersion += 1;
  chainSteps = 0;
  resetChainStatistics();
}

/** Updates done in this run, across changes of training settings. */
function stepsDone() {
  return lab.stepOffset + lab.trainer.stepsDone;
}

function runFinished() {
  return stepsDone() >= lab.settings.epochs * lab.trainer.stepsPerEpoch;
}

/** New training settings for the same model: the weights carry on, the optimiser restarts. */
function retune(settings) {
  checkUpdateCost({ ...settings.training, n_hidden: lab.trainer.nHidden }, lab.m);
  const rbm = lab.trainer.model();
  let trainer;
  try {
    trainer = Trainer.resume(settings.training, rbm, lab.train);
  } finally {
    rbm.free();
  }
  const offset = stepsDone();
  lab.trainer.free();
  lab.trainer = trainer;
  lab.stepOffset = offset;
  lab.settings = settings;
  postFrame(training ? 'training' : 'paused', null);
}

/** Refuses settings whose one update would block the worker for seconds. */
function checkUpdateCost(training, nVisible) {
  const { n_hidden: n, algorithm, k, batch_size: batch } = training;
  const chains = algorithm === 'pcd' ? training.persistent_chains || batch : batch;
  let flops;
  if (algorithm === 'exact') {
    const [small, large] = nVisible <= n ? [nVisible, n] : [n, nVisible];
    // Two passes over 2^small states, each a softplus or sigmoid per unit of the other
    // layer (about 30 flops each: log Z alone at 784 x 20 took 2.5 s), plus the
    // accumulation over the set bits.
    flops = 2 ** small * large * (64 + small) + 8 * batch * nVisible * n;
  } else {
    // Each Gibbs step is two products of chains x m x n multiply-adds.
    flops = 4 * chains * k * nVisible * n + 8 * batch * nVisible * n;
  }
  const seconds = flops / FLOPS_PER_SECOND;
  if (seconds > MAX_UPDATE_SECONDS) {
    throw new Error(`one update with these settings would take about ${seconds.toFixed(0)} s and leave the lab unresponsive; `
      + (algorithm === 'exact' ? 'use fewer hidden units (enumeration doubles with each) or a sampling algorithm'
        : 'lower k, the batch size, the persistent chains or the hidden units'));
  }
}

/**
 * Builds a trainer with `makeTrainer` and makes it the lab's. On any failure everything
 * half-built is freed and the previous model stays in place.
 */
function installOrFree(settings, data, makeTrainer) {
  let trainer = null;
  try {
    trainer = makeTrainer();
    install(settings, data, trainer);
  } catch (error) {
    trainer?.free();
    data.train.free();
    data.heldOut?.free();
    throw error;
  }
  postFrame('ready', null, { evaluate: true, learned: true });
}

async function configure(message) {
  const data = await loadData(message);
  installOrFree(message.settings, data, () => {
    checkUpdateCost(message.settings.training, data.train.rows * data.train.cols);
    return new Trainer(message.settings.training, data.train);
  });
}

function resetChainStatistics() {
  visitTotal = 0;
  visits = lab && lab.m <= MAX_EXACT_VISIBLE ? new Float64Array(2 ** lab.m) : null;
}

function visibleView() {
  return new Float32Array(wasm.memory.buffer, lab.chains.visiblePtr(), lab.chains.len() * lab.m);
}

function stepChains(steps) {
  const beta = lab.settings.beta;
  if (!visits) {
    lab.chains.stepWith(lab.trainer, steps, beta);
    chainSteps += steps;
    return;
  }
  // Small models: count every visited visible state, one step at a time.
  for (let s = 0; s < steps; s++) {
    lab.chains.stepWith(lab.trainer, 1, beta);
    const states = visibleView();
    for (let c = 0; c < lab.chains.len(); c++) {
      let index = 0;
      for (let i = 0; i < lab.m; i++) if (states[c * lab.m + i] > 0.5) index |= 1 << i;
      visits[index] += 1;
    }
    visitTotal += lab.chains.len();
  }
  chainSteps += steps;
}

/** Exact p(v), the empirical frequencies of the visited states, and their distance. */
function distribution() {
  if (!visits) return null;
  const beta = lab.settings.beta;
  if (!exact || exact.version !== modelVersion || exact.beta !== beta) {
    exact = { version: modelVersion, beta, p: lab.trainer.visibleDistribution(beta) };
  }
  const p = exact.p;
  let tv = 0;
  for (let s = 0; s < p.length; s++) tv += Math.abs((visitTotal ? visits[s] / visitTotal : 0) - p[s]);
  const top = Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, TOP_STATES);
  return {
    tv: visitTotal ? tv / 2 : null,
    visited: visitTotal,
    states: top,
    exact: top.map((s) => p[s]),
    empirical: top.map((s) => (visitTotal ? visits[s] / visitTotal : 0)),
  };
}

function copy(ptr, length) {
  return new Float32Array(wasm.memory.buffer, ptr, length).slice();
}

function postFrame(status, stats, { evaluate = false, learned = false } = {}) {
  const { trainer, chains, m } = lab;
  const now = performance.now();
  const frame = {
    status,
    stats,
    stepsDone: stepsDone(),
    stepsPerEpoch: trainer.stepsPerEpoch,
    epochs: lab.settings.epochs,
    shape: lab.shape,
    chainSteps,
    chainsPlaying,
    training,
  };
  const transfer = [];
  const samplePtr = lab.settings.chain_show === 'mean' && chainSteps > 0 ? chains.visibleProbPtr() : chains.visiblePtr();
  frame.samples = copy(samplePtr, chains.len() * m);
  frame.freeEnergies = Float64Array.from(chains.freeEnergies(trainer, lab.settings.beta));
  transfer.push(frame.samples.buffer, frame.freeEnergies.buffer);
  frame.distribution = distribution();
  if (evaluate || (evaluatedVersion !== modelVersion && now - lastEvaluation > EVALUATE_EVERY_MS)) {
    lastEvaluation = now;
    evaluatedVersion = modelVersion;
    frame.evaluation = {
      step: stepsDone(),
      ...(lab.heldOut ? trainer.evaluateWithHeldOut(lab.train, lab.heldOut) : trainer.evaluate(lab.train)),
    };
  }
  if (learned || (learnedVersion !== modelVersion && now - lastLearned > LEARNED_EVERY_MS)) {
    lastLearned = now;
    learnedVersion = modelVersion;
    const n = trainer.nHidden;
    frame.learned = {
      nHidden: n,
      weights: copy(trainer.weightsPtr(), m * n),
      visibleBias: copy(trainer.visibleBiasPtr(), m),
      hiddenBias: copy(trainer.hiddenBiasPtr(), n),
      hiddenMean: Float32Array.from(trainer.hiddenMeanActivation(lab.train)),
    };
    transfer.push(frame.learned.weights.buffer, frame.learned.visibleBias.buffer, frame.learned.hiddenBias.buffer);
  }
  postMessage(frame, transfer);
}

/** Trains for up to `budgetMs` (at least one update); returns the slice's stats. */
function trainSlice(budgetMs) {
  const started = performance.now();
  let stats;
  let updates = 0;
  let errorSum = 0;
  do {
    stats = lab.trainer.step();
    updates += 1;
    errorSum += stats.reconstruction_error;
  } while (performance.now() - started < budgetMs && !runFinished());
  modelVersion += 1;
  resetChainStatistics();
  const elapsed = performance.now() - started;
  return {
    ...stats,
    step: stepsDone(),
    reconstruction_error: errorSum / updates,
    updates,
    samples_per_second: elapsed > 0 ? (updates * lab.settings.training.batch_size * 1000) / elapsed : null,
  };
}

function loop() {
  if (!lab || !(training || chainsPlaying)) return;
  try {
    let stats = null;
    if (training) {
      stats = trainSlice(SLICE_MS);
      if (runFinished()) training = false;
    }
    if (chainsPlaying) stepChains(lab.settings.steps_per_frame);
    postFrame(training ? 'training' : stats ? 'finished' : 'sampling', stats, { evaluate: stats && !training });
  } catch (error) {
    training = false;
    chainsPlaying = false;
    reportError(error);
    return;
  }
  setTimeout(loop, training ? 0 : 16);
}

function reportError(error) {
  postMessage({ status: 'error', message: String(error?.message ?? error) });
  // The model is whatever was last good: show it.
  if (lab) postFrame('paused', null, { evaluate: true, learned: true });
}

function startLoop() {
  setTimeout(loop, 0);
}

const handlers = {
  configure: (message) => configure(message),
  retune: ({ settings }) => (lab ? retune(settings) : undefined),
  train() {
    if (!lab || training) return;
    if (runFinished()) {
      throw new Error(`the run of ${lab.settings.epochs} epochs is complete: raise Epochs or press Reset`);
    }
    const idle = !chainsPlaying;
    training = true;
    chainsPlaying = true;
    if (idle) startLoop();
  },
  pause() {
    training = false;
    if (lab) postFrame('paused', null, { evaluate: true, learned: true });
  },
  step() {
    if (!lab) return;
    training = false;
    const stats = trainSlice(0);
    stepChains(1);
    postFrame('paused', stats, { evaluate: true, learned: true });
  },
  chains({ play }) {
    if (!lab) return;
    const idle = !(training || chainsPlaying);
    chainsPlaying = play;
    if (play && idle) startLoop();
    if (!play) postFrame(training ? 'training' : 'paused', null);
  },
  chainStep() {
    if (!lab) return;
    chainsPlaying = false;
    stepChains(lab.settings.steps_per_frame);
    postFrame(training ? 'training' : 'paused', null);
  },
  restartChains() {
    if (!lab) return;
    if (lab.settings.chain_start === 'data') lab.chains.restartFromData(lab.train);
    else lab.chains.restartFromNoise();
    chainSteps = 0;
    resetChainStatistics();
    postFrame(training ? 'training' : 'paused', null);
  },
  // Settings the chains read live; no new model.
  view({ settings }) {
    if (!lab) return;
    const betaChanged = settings.beta !== lab.settings.beta;
    lab.settings = { ...lab.settings, beta: settings.beta, steps_per_frame: settings.steps_per_frame,
      chain_show: settings.chain_show, chain_start: settings.chain_start, epochs: settings.epochs };
    if (betaChanged) resetChainStatistics();
    postFrame(training ? 'training' : 'paused', null);
  },
  save() {
    if (!lab) return;
    const rbm = lab.trainer.model();
    try {
      postMessage({ status: 'saved', text: rbm.toJson() });
    } finally {
      rbm.free();
    }
  },
  async load({ text, settings, pixels, shape }) {
    const rbm = Rbm.fromJson(text);
    try {
      const data = await loadData({ settings, pixels, shape });
      installOrFree({ ...settings, n_hidden: rbm.nHidden }, data, () => {
        const pixelsPerImage = data.train.rows * data.train.cols;
        if (rbm.nVisible !== pixelsPerImage) {
          throw new Error(`this model has ${rbm.nVisible} visible units but the chosen data has ${pixelsPerImage} pixels per image: pick the data it was trained on, then load it again`);
        }
        checkUpdateCost({ ...settings.training, n_hidden: rbm.nHidden }, pixelsPerImage);
        return Trainer.resume(settings.training, rbm, data.train);
      });
      postMessage({ status: 'loaded-model', nHidden: rbm.nHidden });
    } finally {
      rbm.free();
    }
  },
};

// Messages are handled one at a time, in order, once the engine has loaded.
let queue = init().then((exports) => {
  wasm = exports;
  postMessage({ status: 'engine-ready' });
});
onmessage = ({ data }) => {
  queue = queue.then(() => handlers[data.command]?.(data)).catch((error) => {
    training = false;
    reportError(error);
  });
};
