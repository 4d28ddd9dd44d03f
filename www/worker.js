// The module worker that owns the engine: the data, the trainer, the chains and the
// autosave. Messages in: {command, ...}, handled one at a time in order (see HANDLERS);
// messages out: {status, ...}. Everything posted out is a copy (typed arrays are
// transferred), never a view into wasm memory.
//
// Nothing here may keep the worker from answering for long: every action that costs
// time is estimated before it runs (the engine's cost functions, at a conservative
// FLOPS_PER_MS), settings whose single update would block for seconds are refused,
// and training, chain steps, the learning-curve evaluation and the exact p(v) run in
// slices of about SLICE_MS, so Pause is seen between two slices. Before the few
// long synchronous calls (reading a model file) the worker says how long it expects
// to be busy, so the page's watchdog does not mistake it for a hang.
import { saveRun, loadRun, listRuns, forgetRun } from './storage.js';
import { GUIDE_ACTIONS, useGuideModule, useLabModule } from './guidework.js';
import { fallBackToDeterministic, mathsOf, modulePath, runningMaths } from './maths.js';
import { trainingSettings } from './settings.js';
import { BackgroundHelper, HelperPool, SharedLogPartition, shardTasks } from './helpers.js';

const SLICE_MS = 25;
/** Assumed engine speed: about half of what it measured in Chromium (README, Benchmarks). */
const FLOPS_PER_MS = 1e7;
const SLICE_FLOPS = SLICE_MS * FLOPS_PER_MS;
const EVALUATE_EVERY_MS = 250;
const CURVE_POINTS = 200;
/** AIS points a run draws while training (one more at each pause and at the end). */
const AIS_POINTS = 10;
const LEARNED_EVERY_MS = 400;
const AUTOSAVE_EVERY_MS = 5000;
/** Settings whose single update is estimated above this are refused. */
const MAX_UPDATE_MS = 2000;
/** A chain step (all chains) estimated above this is refused: it cannot be split. */
const MAX_CHAIN_STEP_MS = 250;
/** A pending update estimated to need less than this is finished at once on Pause. */
const FINISH_NOW_MS = 100;
/** The exact p(v) beside the chains is shown up to 2^16 visible states. */
const MAX_EXACT_VISIBLE = 16;
const TOP_STATES = 24;
const MAX_CURVE_POINTS = 3000;
/** Held-out pictures shown beside their reconstructions. */
const RECONSTRUCTIONS = 8;
/** Work in progress is shown at least this often. */
const SHOW_PROGRESS_MS = 250;
/** While training, the chains take a new frame at most this often. */
const CHAIN_FRAME_MS = 16;

/** The settings `retune` changes (same model, new optimiser), and those `view` changes. */
const TRAINING_KEYS = ['algorithm', 'k', 'learning_rate', 'momentum', 'weight_decay', 'batch_size', 'persistent_chains',
  'temperatures', 'beta_min', 'decay_epochs', 'final_learning_rate', 'centring', 'sparsity_cost', 'sparsity_target'];
const VIEW_KEYS = ['beta', 'steps_per_frame', 'chain_show', 'chain_start', 'epochs', 'pace', 'ais_runs', 'ais_temperatures',
  'workers'];
const NUMERIC = ['workers', 'side', 'n_hidden', 'k', 'learning_rate', 'momentum', 'weight_decay', 'batch_size',
  'persistent_chains', 'epochs', 'seed', 'chains', 'beta', 'steps_per_frame', 'ais_runs', 'ais_temperatures',
  'temperatures', 'beta_min', 'decay_epochs', 'final_learning_rate', 'sparsity_cost', 'sparsity_target'];
const CHOICES = {
  data: ['mnist', 'bars', 'drawn', 'loaded'],
  algorithm: ['cd', 'pcd', 'gibbs', 'exact', 'tempering'],
  chain_start: ['noise', 'data'],
  centring: ['off', 'on'],
  chain_show: ['sample', 'mean'],
  pace: ['0', '100', '20', '5', '1'],
};

// The lab module's exports (src/wasm/lab.rs), from the build this worker was started
// for (maths.js): set once it has loaded, before any command is handled.
let Dataset, Trainer, Chains, Rbm, settingLimits, randomSeed, checkPageSetting, updateCost, gibbsStepCost,
  freeEnergyCost, distributionCost, injectPanic;
/**
 * The build that runs: 'fast' only where it was asked for, the browser can run it and
 * its module loaded (loadEngine).
 */
let MATHS = runningMaths();
/** Why fast maths was asked for (`?maths=fast`) and does not run, or null. */
let fastUnavailable = mathsOf(self.location.href) === 'fast' && MATHS !== 'fast'
  ? 'Fast maths needs relaxed SIMD, which this browser does not run' : null;
let wasm = null;
let limits = null; // the engine's table of setting ranges
let poisoned = false; // after a trap the instance is never used again
let lastPanic = null;
globalThis.rbmLabEnginePanic = (message) => { lastPanic = message; };

let lab = null; // see install()
let training = false;
let finishing = false; // paused, finishing the update in progress
let chainsPlaying = false;
let frameStepsLeft = 0; // chain steps still to take for the current frame
let appliedSeq = 0; // the last settings command handled (applied or refused)

/** Frames from now on answer settings command `seq`: the page may adopt what they say runs. */
function acknowledge(seq) {
  if (seq !== undefined) appliedSeq = seq;
}
let mnistBytes = null;

// ---- settings -----------------------------------------------------------------------

/** Every page setting in its page range (the engine's table), every choice known. */
function validate(settings) {
  for (const id of NUMERIC) {
    const value = settings[id];
    if (typeof value !== 'number') throw new Error(`${id} is empty: enter a number`);
    checkPageSetting(id, value);
  }
  for (const [id, options] of Object.entries(CHOICES)) {
    if (!options.includes(settings[id])) throw new Error(`${id} = ${settings[id]} is not one of ${options.join(', ')}`);
  }
}

/** "about 6.9 s", "about 3 hours", "over a thousand years". */
function aboutDuration(ms) {
  const seconds = ms / 1000;
  if (seconds < 90) return `about ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} minutes`;
  if (seconds < 172800) return `about ${Math.round(seconds / 3600)} hours`;
  if (seconds < 6.3e7) return `about ${Math.round(seconds / 86400)} days`;
  if (seconds < 3.2e10) return `about ${Math.round(seconds / 3.15e7)} years`;
  return 'over a thousand years';
}

/** Refuses training settings whose one update would block the worker for seconds. */
function checkUpdateCost(training, nVisible) {
  const { update } = updateCost(training, nVisible);
  const ms = update / FLOPS_PER_MS;
  if (ms > MAX_UPDATE_MS) {
    throw new Error(`one update with these settings would take ${aboutDuration(ms)} and leave the lab unresponsive; `
      + (training.algorithm === 'exact' ? 'use fewer hidden units (enumeration doubles with each) or a sampling algorithm'
        : 'lower k, the batch size, the persistent chains or the hidden units'));
  }
  return ms;
}

function checkChainCost(chains, m, n) {
  const ms = (gibbsStepCost(chains, m, n) + freeEnergyCost(chains, m, n)) / FLOPS_PER_MS;
  if (ms > MAX_CHAIN_STEP_MS) {
    throw new Error(`one step of ${chains} chains of this ${m} x ${n} model would take ${aboutDuration(ms)}, `
      + 'too long to stay responsive: use fewer chains or hidden units');
  }
}

// ---- data -----------------------------------------------------------------------------

async function fetchMnist() {
  if (!mnistBytes) {
    const response = await fetch(new URL('./data/mnist.bin', import.meta.url));
    if (!response.ok) throw new Error(`could not load the MNIST digits (HTTP ${response.status}); ./lab serve builds them`);
    mnistBytes = new Uint8Array(await response.arrayBuffer());
  }
  return mnistBytes;
}

/** `{train, heldOut}` for the settings; `data` carries pixels for drawn or loaded images. */
async function loadData(settings, data) {
  if (settings.data === 'mnist') {
    const bytes = await fetchMnist();
    const [train, heldOut] = Dataset.mnistSplit(bytes);
    return { train, heldOut };
  }
  if (settings.data === 'bars') return { train: Dataset.barsAndStripes(settings.side), heldOut: null };
  if (!data?.pixels) {
    throw new Error(settings.data === 'drawn'
      ? 'no patterns drawn yet: draw one or more on the grid and press "Train on these"'
      : 'no file loaded yet: choose a CSV or PNG file in the Data panel');
  }
  return { train: Dataset.fromPixels(data.pixels, data.rows, data.cols), heldOut: null };
}

function freeBuilt(built) {
  built?.chains.free();
  built?.trainer.free();
}

function freeData(data) {
  data?.train?.free();
  data?.heldOut?.free();
}

function copy(ptr, length) {
  return new Float32Array(wasm.memory.buffer, ptr, length).slice();
}

// ---- the lab: one run -------------------------------------------------------------------

function newRunId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Makes `trainer` (on `data`) the lab's run, freeing the previous one. `run` carries
 * what continues from a saved run: its id, chain steps and curves.
 */
function install(settings, data, dataDescriptor, trainer, chains, run = {}) {
  const previous = lab;
  lab = {
    // What runs, whatever was asked: a run restored or a fast one asked for where the
    // browser has no relaxed SIMD runs on this worker's build.
    settings: { ...settings, maths: MATHS },
    ...data,
    data: dataDescriptor,
    trainer,
    chains,
    shape: [data.train.rows, data.train.cols],
    m: trainer.nVisible,
    runId: run.runId ?? newRunId(),
    valuable: run.valuable ?? false,
    dirty: false,
    lastSaved: performance.now(),
    modelVersion: 1,
    evaluatedVersion: 0,
    lastEvaluation: -Infinity,
    learnedVersion: 0,
    lastLearned: -Infinity,
    activation: null,
    chainSteps: run.chainSteps ?? 0,
    visits: null,
    visitTotal: 0,
    exact: null, // {version, beta, p}
    logPartition: null, // a placed picture's exact log Z under way (see startLogPartition)
    logPartitionKnown: null, // {version, value}: the last one worked out, for the model at that version
    pending: { ais: null, evaluation: null }, // the background helper's answers, for the loop
    curves: { recon: [], evaluation: [], ais: [], ...run.curves },
    untouched: !run.runId, // "Ready" until the first update or chain step
    updateMs: updateCost(trainingSettings(settings), trainer.nVisible).update / FLOPS_PER_MS,
  };
  resetChainStatistics();
  if (previous) {
    background.cancel();
    stopLogPartition(previous, 'the model was rebuilt: score the picture again');
    previous.chains.free();
    previous.trainer.free();
    freeData(previous);
  }
  training = false;
  finishing = false;
  chainsPlaying = false;
  frameStepsLeft = 0;
  applyWorkers();
}

// ---- helper workers -------------------------------------------------------------------------

// Each update of cd, pcd and gibbs is split over lab.settings.workers workers: this one
// and workers - 1 helpers (helpers.js, helper.js). Shards are handed out as an update
// begins; this worker computes shard 0 meanwhile, then waits (without spinning) for the
// helpers' answers, which wake the loop. A helper that fails is replaced and its shard
// computed here. Updates finished synchronously (Pause, Step, a change of settings)
// compute every shard here.
const pool = new HelperPool(onShardAnswer, onShardLost, (why) => {
  postMessage({ status: 'note', message: `The helper workers were stopped (${why}): this worker computes every share of each update now. The run's numbers do not change; reload the page to try helpers again.` });
});

/**
 * Gives the trainer the workers setting and keeps one helper per extra worker in use.
 * Never throws: without helpers this worker computes every shard (the same bits).
 */
function applyWorkers() {
  pool.cancel();
  lab.waiting = false;
  lab.trainer.setWorkers(lab.settings.workers);
  pool.resize(lab.trainer.workersInUse - 1);
}

/** Finishes the update in progress here, every shard included; helpers' work on it is dropped. */
function finishHere() {
  const slice = lab.trainer.trainFor(60000, 1, true);
  pool.cancel();
  lab.waiting = false;
  return slice;
}

function onShardAnswer(bytes, shard) {
  if (!lab || poisoned) return;
  let used;
  try {
    used = lab.trainer.acceptShard(bytes);
  } catch (error) {
    if (isFatal(error)) {
      reportError(error);
      return;
    }
    // A damaged answer: the shard is computed here instead.
    onShardLost(shard, String(error?.message ?? error));
    return;
  }
  if (used) wake();
}

function onShardLost(shard, why) {
  if (!lab || poisoned || !lab.trainer.updateInProgress) return;
  const ms = lab.updateMs / Math.max(1, lab.trainer.workersInUse);
  if (ms > 1000) announceBusy('computing a helper\'s share of the update', ms);
  try {
    lab.trainer.computeShard(shard);
  } catch (error) {
    reportError(error);
    return;
  }
  if (!pool.unavailable) {
    postMessage({ status: 'note', message: `A helper worker failed (${why}); it was replaced, and its share of the update computed here.` });
  }
  wake();
}

/** Whether the run is due to be saved: the split training loop then stops between updates. */
function autosaveDue() {
  return lab.valuable && lab.dirty && !storageBroken && performance.now() - lab.lastSaved > AUTOSAVE_EVERY_MS;
}

/** Runs the loop now: the update it waited for can go on. */
function wake() {
  if (!lab) return;
  lab.waiting = false;
  if (scheduled) {
    clearTimeout(scheduledTimer);
    soonTicket += 1;
    scheduled = false;
  }
  schedule();
}

/**
 * As the engine's trainFor, with a split update's shards handed to the helpers as soon
 * as it begins. Stops early, with `waiting`, when the update waits for their answers.
 */
function trainForWithHelpers(budgetMs, allowed) {
  if (lab.trainer.workersInUse < 2 || pool.size === 0) return lab.trainer.trainFor(budgetMs, allowed, true);
  // The helpers' answers arrive between slices, so a slice that ends with an update
  // waiting must not be the rule: autosave (which needs no update in progress) would
  // never find its moment. A due save ends the slice between two updates.
  const started = performance.now();
  const total = { updates: 0, last: null, in_progress: false, waiting: false, wall_time_ms: 0 };
  let errorSum = 0;
  for (;;) {
    if (!lab.trainer.updateInProgress) {
      if (total.updates >= allowed || (total.updates > 0 && autosaveDue())) break;
      lab.trainer.beginUpdate();
      // (The views die at the next call into the module: nothing comes between.)
      const expectedMs = lab.updateMs / lab.trainer.workersInUse;
      pool.dispatch(shardTasks(lab.trainer, wasm.memory), expectedMs);
    }
    const slice = lab.trainer.trainFor(Math.max(0, budgetMs - (performance.now() - started)), 1);
    if (slice.updates > 0) {
      total.updates += slice.updates;
      errorSum += slice.last.reconstruction_error;
      total.last = slice.last;
    }
    total.in_progress = slice.in_progress;
    total.waiting = slice.waiting;
    if (slice.in_progress || performance.now() - started >= budgetMs) break;
  }
  if (total.last) total.last = { ...total.last, reconstruction_error: errorSum / total.updates };
  total.wall_time_ms = performance.now() - started;
  return total;
}

/**
 * Builds a trainer and chains for `settings` (by `makeTrainer`, which checks every
 * setting against the data first), refuses them if an update or a chain step would
 * block for long, and frees all on failure.
 */
function build(settings, data, makeTrainer) {
  let trainer = null;
  try {
    trainer = makeTrainer();
    // The trainer's own settings: a restored run's are read from its snapshot.
    const config = trainer.config();
    const expected = trainingSettings({ ...settings, n_hidden: trainer.nHidden });
    // (The rates are 32-bit floats in the engine.)
    const same = (a, b) => a === b || (typeof a === 'number' && Math.fround(a) === Math.fround(b));
    for (const [key, value] of Object.entries(expected)) {
      if (!same(config[key], value)) throw new Error(`the run's ${key} is ${config[key]} but its settings say ${value}`);
    }
    checkUpdateCost(config, trainer.nVisible);
    if (data.heldOut) trainer.setHeldOut(data.heldOut);
    checkChainCost(settings.chains, trainer.nVisible, trainer.nHidden);
    const chains = Chains.forTrainer(trainer, settings.chains, (settings.seed + 1) >>> 0);
    return { trainer, chains };
  } catch (error) {
    trainer?.free();
    throw error;
  }
}

function stepsDone() {
  return lab.trainer.stepsDone;
}

function runLength() {
  return lab.settings.epochs * lab.trainer.stepsPerEpoch;
}

function runFinished() {
  return stepsDone() >= runLength();
}

function describeRun(settings, steps) {
  const data = { mnist: 'MNIST', bars: `${settings.side} x ${settings.side} bars and stripes`, drawn: 'drawn patterns',
    loaded: 'loaded images' }[settings.data];
  const algorithm = { cd: `CD-${settings.k}`, pcd: `PCD-${settings.k}`, gibbs: `Gibbs-${settings.k}`, exact: 'exact' }[settings.algorithm];
  return `${data} · ${settings.n_hidden} hidden · ${algorithm} · step ${steps.toLocaleString('en')}`
    + `${settings.maths === 'fast' ? ' · fast maths' : ''}`;
}

/** The model's file name: from what is running, not from the form. */
function fileName() {
  return `rbm-${lab.settings.data}-${lab.m}x${lab.trainer.nHidden}-step${stepsDone()}.json`;
}

// ---- the chains and the exact p(v) ---------------------------------------------------------

function resetChainStatistics() {
  lab.visitTotal = 0;
  lab.visits = lab.m <= MAX_EXACT_VISIBLE ? new Float64Array(2 ** lab.m) : null;
}

function modelChanged() {
  lab.untouched = false;
  lab.modelVersion += 1;
  lab.dirty = true;
  resetChainStatistics();
}

function visibleView() {
  return new Float32Array(wasm.memory.buffer, lab.chains.visiblePtr(), lab.chains.len() * lab.m);
}

/** Up to `steps` chain steps within about a slice; returns the steps taken. */
function stepChains(steps) {
  const { trainer, chains, m } = lab;
  const perStep = gibbsStepCost(chains.len(), m, trainer.nHidden);
  const count = Math.max(1, Math.min(steps, Math.floor(SLICE_FLOPS / perStep)));
  const beta = lab.settings.beta;
  if (!lab.visits) {
    chains.stepWith(trainer, count, beta);
  } else {
    // Small models: count every visited visible state, one step at a time.
    for (let s = 0; s < count; s++) {
      chains.stepWith(trainer, 1, beta);
      const states = visibleView();
      for (let c = 0; c < chains.len(); c++) {
        let index = 0;
        for (let i = 0; i < m; i++) if (states[c * m + i] > 0.5) index |= 1 << i;
        lab.visits[index] += 1;
      }
      lab.visitTotal += chains.len();
    }
  }
  lab.chainSteps += count;
  lab.untouched = false;
  return count;
}

/** Keeps the exact p(v) of the current model and β computed, a slice at a time. */
function distributionSlice() {
  if (!lab.visits) return false;
  const beta = lab.settings.beta;
  const stale = !lab.exact || lab.exact.version !== lab.modelVersion || lab.exact.beta !== beta;
  if (!lab.distributionJob && stale) {
    lab.trainer.startDistribution(beta);
    lab.distributionJob = { version: lab.modelVersion, beta };
  }
  if (!lab.distributionJob) return false;
  const p = lab.trainer.advanceDistribution(SLICE_FLOPS / 2);
  if (!p) return false;
  lab.exact = { ...lab.distributionJob, p };
  lab.distributionJob = null;
  return true;
}

function distribution() {
  if (!lab.visits || !lab.exact) return null;
  const { p } = lab.exact;
  const { visits, visitTotal } = lab;
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

// ---- learning curves ------------------------------------------------------------------

function pushCurve(curve, point) {
  curve.push(point);
  if (curve.length > MAX_CURVE_POINTS) {
    const kept = curve.filter((_, i) => i % 2 === 0);
    curve.length = 0;
    curve.push(...kept);
  }
}

/**
 * Starts and advances the learning-curve evaluation; returns a finished point or null.
 * The evaluation goes to the background helper when one runs (sendEvaluation); its
 * point then comes back into lab.pending and is returned here.
 */
function evaluationSlice(force = false) {
  if (lab.pending.evaluation) {
    const { point, step } = lab.pending.evaluation;
    lab.pending.evaluation = null;
    return recordEvaluation(point, step);
  }
  const now = performance.now();
  if (!lab.trainer.evaluationRunning && lab.evaluatedVersion !== lab.modelVersion
      && (force || !training || now - lab.lastEvaluation > EVALUATE_EVERY_MS || stepsToNextPoint() <= 0)) {
    lab.trainer.startEvaluation();
    lab.evaluationStep = stepsDone();
    lab.evaluatedVersion = lab.modelVersion;
    lab.lastEvaluation = now;
    sendEvaluation();
  }
  if (!lab.trainer.evaluationRunning || lab.trainer.evaluationAway) return null;
  const point = lab.trainer.advanceEvaluation(SLICE_FLOPS / 2);
  return point ? recordEvaluation(point, lab.evaluationStep) : null;
}

/** A finished point of the curves, for the model after `step` updates. */
function recordEvaluation(point, step) {
  const { hidden_mean_activation: activation, ...curves } = point;
  lab.activation = Float32Array.from(activation);
  const evaluation = { step, ...curves };
  lab.exactUnavailable = Boolean(evaluation.exact_unavailable);
  pushCurve(lab.curves.evaluation, evaluation);
  return evaluation;
}

/**
 * When the exact log-likelihood is out of reach: an AIS estimate (ais.rs) about every
 * tenth of a run, and once more for the model a pause or the run's end leaves. It runs
 * in slices like the other curves, so the animation and Pause are not held up.
 */
function aisDue() {
  // Not for a model nobody has trained yet: the page stays quiet until Train.
  if (!lab.exactUnavailable || lab.untouched || lab.trainer.aisRunning || lab.aisVersion === lab.modelVersion) return false;
  const spacing = Math.max(1, Math.ceil(runLength() / AIS_POINTS));
  return !training || stepsDone() - (lab.aisStep ?? -Infinity) >= spacing;
}

function aisSlice() {
  if (aisDue()) {
    lab.trainer.startAis(lab.settings.ais_runs, lab.settings.ais_temperatures);
    lab.aisStep = stepsDone();
    lab.aisVersion = lab.modelVersion;
    sendAis();
  }
  let point = lab.pending.ais;
  lab.pending.ais = null;
  if (!point && lab.trainer.aisRunning && !lab.trainer.aisAway) point = lab.trainer.advanceAis(SLICE_FLOPS / 2);
  if (!point) return null;
  pushCurve(lab.curves.ais, point);
  return point;
}

// The curves' background work (AIS estimates and the curves' points) runs on a helper
// of its own (helpers.js' BackgroundHelper), so it takes the other core and not
// training's time; the same jobs give the same bits there. Their answers wait in
// lab.pending for the loop, which they wake. When that helper fails, or none can start,
// the work is computed here, in slices, as before.
const background = new BackgroundHelper();

/**
 * Hands the job of `kind` just started to the background helper (leaves it here when
 * none runs): `task()` gives its bytes, `accept(bytes)` reads the answer into a point,
 * `here()` takes the job back.
 */
function sendBackground(kind, { task, accept, here, expectedMs, rows = null, onProgress = () => {} }) {
  // The first point, of a model nobody has trained yet, is cheap: computed here, it
  // leaves the helper unstarted while the page loads (its start-up would share the
  // cores with the first picture).
  if (lab.untouched) return;
  const { trainer } = lab;
  // (A new lab, or a new trainer in it after a change of training settings, drops it.)
  const forLab = lab;
  const current = () => lab === forLab && lab.trainer === trainer && !poisoned;
  let bytes;
  try {
    bytes = task();
  } catch (error) {
    if (isFatal(error)) throw error;
    return; // computed here
  }
  const takeBack = () => {
    here();
    wake();
  };
  const sent = background.run(kind, bytes, { expectedMs, sliceFlops: SLICE_FLOPS / 2, rows }, {
    onProgress(fraction) {
      if (current()) onProgress(fraction);
    },
    onDone(answer) {
      if (!current()) return;
      try {
        lab.pending[kind] = accept(answer);
      } catch (error) {
        if (isFatal(error)) {
          reportError(error);
          return;
        }
        takeBack(); // a damaged answer: computed here instead
        return;
      }
      wake();
    },
    onLost(why) {
      if (!current()) return;
      postMessage({ status: 'note', message: `The background helper worker failed (${why}): the learning curves' work is computed here instead, to the same numbers, and ${background.unavailable ? 'so is all of it from now on' : 'a new helper takes the next'}.` });
      takeBack();
    },
  });
  if (!sent) here();
}

function sendAis() {
  lab.aisAwayProgress = 0;
  const { trainer } = lab;
  const flops = gibbsStepCost(lab.settings.ais_runs, lab.m, trainer.nHidden) * lab.settings.ais_temperatures;
  sendBackground('ais', {
    task: () => trainer.aisTask(),
    accept: (bytes) => trainer.acceptAis(bytes),
    here: () => trainer.aisHere(),
    expectedMs: flops / FLOPS_PER_MS,
    onProgress(fraction) {
      lab.aisAwayProgress = fraction;
      // A paused lab shows the estimate's progress too (a running loop posts frames anyway).
      if (!scheduled && performance.now() - lastPosted > SHOW_PROGRESS_MS / 4) postFrame(statusWord());
    },
  });
}

function sendEvaluation() {
  const { trainer } = lab;
  const step = lab.evaluationStep;
  sendBackground('evaluation', {
    task: () => trainer.evaluationTask(),
    accept: (bytes) => ({ point: trainer.acceptEvaluation(bytes), step }),
    here: () => trainer.evaluationHere(),
    // (At most: every training row, as an exact point reads, and the held-out ones, with log Z
    // enumerated at up to 2^24 terms of a few dozen operations.)
    expectedMs: (freeEnergyCost(lab.shape[0] + 2000, lab.m, trainer.nHidden) + 2 ** 24 * 50) / FLOPS_PER_MS,
    rows: { id: trainer.evaluationDataId, bytes: () => trainer.evaluationData() },
  });
}

// ---- frames -------------------------------------------------------------------------------

function statusWord() {
  if (training) return 'training';
  if (finishing) return 'finishing';
  if (runFinished()) return 'finished';
  if (chainsPlaying) return 'sampling';
  return lab.untouched ? 'ready' : 'paused';
}

function postFrame(status, { stats = null, evaluation = null, ais = null, learned = false, stepped = false } = {}) {
  const { trainer, chains, m } = lab;
  const now = performance.now();
  const frame = {
    status,
    stats,
    evaluation,
    ais,
    aisProgress: !lab.trainer.aisRunning ? null : lab.trainer.aisAway ? lab.aisAwayProgress : lab.trainer.aisProgress,
    exchangeRates: lab.settings.algorithm === 'tempering' ? Array.from(lab.trainer.exchangeRates) : null,
    running: lab.settings,
    runId: lab.runId,
    seq: appliedSeq,
    stepsDone: stepsDone(),
    stepsPerEpoch: trainer.stepsPerEpoch,
    epochs: lab.settings.epochs,
    shape: lab.shape,
    chainSteps: lab.chainSteps,
    chainsPlaying,
    training,
    finishing,
    updateInProgress: trainer.updateInProgress,
    updateMs: lab.updateMs,
    stepped,
    exactNote: null,
  };
  const transfer = [];
  const samplePtr = lab.settings.chain_show === 'mean' && lab.chainSteps > 0 ? chains.visibleProbPtr() : chains.visiblePtr();
  frame.samples = copy(samplePtr, chains.len() * m);
  frame.freeEnergies = Float64Array.from(chains.freeEnergies(trainer, lab.settings.beta));
  transfer.push(frame.samples.buffer, frame.freeEnergies.buffer);
  frame.distribution = distribution();
  if (evaluation && lab.activation) {
    frame.activation = lab.activation.slice();
    transfer.push(frame.activation.buffer);
  }
  if (learned || (lab.learnedVersion !== lab.modelVersion && now - lab.lastLearned > LEARNED_EVERY_MS)) {
    lab.lastLearned = now;
    lab.learnedVersion = lab.modelVersion;
    const n = trainer.nHidden;
    frame.learned = {
      nHidden: n,
      weights: copy(trainer.weightsPtr(), m * n),
      visibleBias: copy(trainer.visibleBiasPtr(), m),
      hiddenBias: copy(trainer.hiddenBiasPtr(), n),
    };
    const pairs = lab.trainer.reconstructions(RECONSTRUCTIONS);
    frame.learned.pictures = Float32Array.from(pairs.pictures);
    frame.learned.reconstructions = Float32Array.from(pairs.reconstructions);
    transfer.push(frame.learned.weights.buffer, frame.learned.visibleBias.buffer, frame.learned.hiddenBias.buffer,
      frame.learned.pictures.buffer, frame.learned.reconstructions.buffer);
    if (lab.activation && !frame.activation) {
      frame.activation = lab.activation.slice();
      transfer.push(frame.activation.buffer);
    }
  }
  postMessage(frame, transfer);
  lastPosted = now;
}

/** Finishes an update left part-way (saying so first when that takes a while). */
function finishPendingUpdate() {
  if (!lab.trainer.updateInProgress) return;
  const ms = updateCost(trainingSettings(lab.settings), lab.m).update / FLOPS_PER_MS;
  if (ms > 500) announceBusy('finishing the current update', ms);
  if (finishHere().updates > 0) modelChanged();
  finishing = false;
}

// ---- autosave -----------------------------------------------------------------------------

let saving = Promise.resolve();
let storageBroken = false;
/** This tab (the page gives it in the worker's address; it outlives a worker restart). */
const TAB = new URL(import.meta.url).searchParams.get('tab') || newRunId();

/** Saves the run to IndexedDB if it has anything worth keeping; resolves when written. */
function autosave() {
  if (!lab || !lab.valuable || !lab.dirty || lab.trainer.updateInProgress || storageBroken) return saving;
  const { trainer, chains } = lab;
  const meta = {
    id: lab.runId,
    writer: TAB,
    savedAt: Date.now(),
    title: describeRun(lab.settings, stepsDone()),
    stepsDone: stepsDone(),
    settings: lab.settings,
  };
  const state = {
    trainer: trainer.snapshot().buffer,
    evaluation: trainer.evaluationState().buffer,
    chains: chains.snapshot().buffer,
    chainSteps: lab.chainSteps,
    curves: structuredClone(lab.curves),
    data: lab.data,
  };
  lab.dirty = false;
  lab.lastSaved = performance.now();
  const run = lab;
  saving = saving.then(() => saveRun(meta, state)).then((result) => {
    if (result === 'taken') {
      // Another tab's run (restored here too): this tab's goes on under an id of its own.
      if (lab === run) {
        run.runId = newRunId();
        run.dirty = true;
      }
      return;
    }
    postMessage({ status: 'autosaved', meta });
  }, (error) => {
    run.dirty = true;
    storageBroken = true;
    postMessage({ status: 'warning', message: `Autosave is off: the browser refused to store the run (${error?.message ?? error}).` });
  });
  return saving;
}

function maybeAutosave() {
  if (!lab?.valuable || !lab.dirty || lab.trainer.updateInProgress) return;
  if (!training || performance.now() - lab.lastSaved > AUTOSAVE_EVERY_MS) autosave();
}

/** Stops the current run's work (before it is replaced). */
function stopWork() {
  training = false;
  finishing = false;
  chainsPlaying = false;
  frameStepsLeft = 0;
}

/**
 * Before a run is replaced: its work stops, its latest state is saved, and the page is
 * told it is kept.
 */
async function keepCurrentRun() {
  stopWork();
  if (!lab?.valuable) return;
  finishPendingUpdate();
  const meta = { id: lab.runId, title: describeRun(lab.settings, stepsDone()), stepsDone: stepsDone() };
  await autosave();
  if (!storageBroken) postMessage({ status: 'kept', meta });
}

// ---- the work loop --------------------------------------------------------------------------

let scheduled = false;
let scheduledTimer = 0;
// The loop's next slice "at once" is a message to itself, not setTimeout(loop, 0): nested
// timers are clamped to 4 ms (the HTML standard's timer rules), which left the worker idle
// a fifth of the time while training at the defaults. Messages from the page still come in
// between two slices, as the same kind of task. A ticket tells a cancelled one (wake) apart.
const soon = new MessageChannel();
let soonTicket = 0;
soon.port1.onmessage = ({ data }) => {
  if (data === soonTicket) loop();
};
let lastPosted = 0;

function busy() {
  // (Work on the background helper is not work here: its answer wakes the loop.)
  return lab && (training || finishing || chainsPlaying || frameStepsLeft > 0 || evaluationWork()
    || lab.pending.evaluation || (lab.trainer.aisRunning && !lab.trainer.aisAway) || lab.pending.ais || aisDue()
    || lab.distributionJob || lab.completion || logPartitionWork());
}

/** An evaluation to compute here, or one to start (not while one is on the background helper). */
function evaluationWork() {
  return lab.trainer.evaluationRunning ? !lab.trainer.evaluationAway : lab.evaluatedVersion !== lab.modelVersion;
}

function schedule() {
  if (scheduled || poisoned || !busy()) return;
  // (Work on the background helper is not work here: its answer wakes the loop.)
  const aisHere = lab.trainer.aisRunning && !lab.trainer.aisAway;
  const noOtherWork = !evaluationWork() && !lab.distributionJob && !aisHere && !lab.pending.ais && !lab.pending.evaluation
    && frameStepsLeft === 0 && !lab.completion && !logPartitionWork();
  // Training waits for the background helper's curve point when the next one is due.
  const pointDue = training && lab.trainer.evaluationAway && stepsToNextPoint() <= 0;
  // Waiting for the helpers with nothing else to do: their answer wakes the loop.
  if ((lab.waiting || pointDue) && noOtherWork && !chainsPlaying) return;
  scheduled = true;
  const onlyChains = !training && !finishing && noOtherWork;
  const paced = training && Number(lab.settings.pace) > 0;
  if (onlyChains || paced || lab.waiting || pointDue) {
    scheduledTimer = setTimeout(loop, CHAIN_FRAME_MS);
  } else {
    soonTicket += 1;
    soon.port2.postMessage(soonTicket);
  }
}

/** Updates the pace allows now (Infinity at "as fast as possible"). */
function paceAllowance() {
  const pace = Number(lab.settings.pace);
  if (!(pace > 0)) return Infinity;
  const now = performance.now();
  if (!lab.paceClock) lab.paceClock = { since: now, done: 0 };
  return Math.floor(((now - lab.paceClock.since) / 1000) * pace) - lab.paceClock.done;
}

/**
 * Updates until the next learning-curve point is due by step count: whatever the speed,
 * a run draws at least about CURVE_POINTS points (a tiny model trains a whole run in
 * less than a second, faster than the EVALUATE_EVERY_MS clock would sample it).
 */
function stepsToNextPoint() {
  const spacing = Math.max(1, Math.ceil(runLength() / CURVE_POINTS));
  return (lab.evaluationStep ?? 0) + spacing - stepsDone();
}

/**
 * Examples per second over the wall time of the last second or two, whatever else the
 * worker did meanwhile (the chains, the curves, waiting for helpers): so one worker and
 * several compare as they really run.
 */
function trainingRate(slice) {
  const batch = lab.settings.batch_size;
  const now = performance.now();
  const clock = lab.rateClock;
  if (!clock || now - clock.since > 2000) {
    lab.rateClock = { since: now - slice.wall_time_ms, updates: slice.updates, rate: clock?.rate ?? null };
  } else {
    clock.updates += slice.updates;
    if (now - clock.since > 250) clock.rate = (clock.updates * batch * 1000) / (now - clock.since);
  }
  return lab.rateClock.rate ?? ((slice.updates * batch * 1000) / Math.max(1, slice.wall_time_ms));
}

function trainSlice() {
  // A piece that cannot be split and takes long: say so, so the watchdog waits.
  const pieceMs = updateCost(trainingSettings(lab.settings), lab.m).piece / FLOPS_PER_MS;
  if (pieceMs > 1000) announceBusy('one part of an update', pieceMs);
  const remaining = Math.max(1, runLength() - stepsDone());
  const allowed = finishing ? 1 : Math.min(remaining, paceAllowance(), Math.max(0, stepsToNextPoint()));
  if (allowed < 1 && !lab.trainer.updateInProgress) return null;
  const slice = trainForWithHelpers(SLICE_MS, Math.max(1, allowed));
  lab.waiting = slice.waiting;
  if (lab.paceClock) lab.paceClock.done += slice.updates;
  if (slice.updates > 0) modelChanged();
  if (finishing && !slice.in_progress) finishing = false;
  if (training && runFinished() && !slice.in_progress) training = false;
  if (!slice.last) return null;
  const stats = {
    ...slice.last,
    step: stepsDone(),
    updates: slice.updates,
    samples_per_second: trainingRate(slice),
    // Shards computed by helpers: none left when they were given up.
    workers: pool.size > 0 ? lab.trainer.workersInUse : 1,
  };
  pushCurve(lab.curves.recon, [stats.step, stats.reconstruction_error]);
  return stats;
}

function loop() {
  scheduled = false;
  if (!lab || poisoned) return;
  try {
    const wasTraining = training || finishing;
    const stats = wasTraining && !lab.waiting ? trainSlice() : null;
    let frameDone = false;
    const frameDue = !wasTraining || performance.now() - (lab.lastChainFrame ?? 0) >= CHAIN_FRAME_MS;
    if (chainsPlaying && frameStepsLeft === 0 && frameDue) {
      frameStepsLeft = lab.settings.steps_per_frame;
      lab.lastChainFrame = performance.now();
    }
    if (frameStepsLeft > 0) {
      frameStepsLeft -= stepChains(frameStepsLeft);
      frameDone = frameStepsLeft === 0;
    }
    completionSlice();
    logPartitionSlice();
    const evaluation = evaluationSlice();
    const exactDone = distributionSlice();
    const ais = aisSlice();
    const ended = wasTraining && !training && !finishing;
    // Slow chains (a big model, many steps per frame) still show progress a few times a second.
    const overdue = performance.now() - lastPosted > SHOW_PROGRESS_MS;
    if (stats || frameDone || evaluation || exactDone || ais || ended || overdue) {
      const status = ended && runFinished() ? 'finished' : statusWord();
      postFrame(status, { stats, evaluation, ais, learned: ended });
    }
    maybeAutosave();
  } catch (error) {
    training = false;
    finishing = false;
    chainsPlaying = false;
    frameStepsLeft = 0;
    reportError(error);
    return;
  }
  schedule();
}

// ---- errors -------------------------------------------------------------------------------------

/** A trap (or wasm-bindgen's borrow errors after one) means the instance cannot be trusted. */
function isFatal(error) {
  return error instanceof WebAssembly.RuntimeError
    || /recursive use of an object|while it was borrowed|null pointer passed to rust|unreachable/i.test(String(error?.message ?? error));
}

/** Commands whose refusal means the page should show the running settings again. */
const SETTINGS_COMMANDS = new Set(['configure', 'retune', 'view', 'load', 'restore']);

/** What a trap was: the panic's own message, or (with none: an allocation failed) memory. */
function trapMessage(error) {
  if (lastPanic) return lastPanic;
  const text = String(error?.message ?? error);
  return /unreachable/i.test(text) ? `the engine ran out of memory or hit an internal error (${text})` : text;
}

function reportError(error, command = null) {
  if (isFatal(error)) {
    poisoned = true;
    postMessage({ status: 'fatal', message: trapMessage(error) });
    return;
  }
  postMessage({
    status: 'error',
    message: String(error?.message ?? error),
    command,
    running: SETTINGS_COMMANDS.has(command) ? lab?.settings ?? null : null,
    seq: appliedSeq,
  });
  try {
    if (lab) postFrame(statusWord(), { learned: true });
  } catch (second) {
    if (isFatal(second)) {
      poisoned = true;
      postMessage({ status: 'fatal', message: trapMessage(second) });
    }
  }
}

function announceBusy(what, expectedMs) {
  postMessage({ status: 'busy', what, expectedMs });
}

// ---- commands ---------------------------------------------------------------------------------

/** What the autosave keeps of the data: the pixels of drawn or loaded images. */
function dataDescriptor(settings, data) {
  if ((settings.data === 'loaded' || settings.data === 'drawn') && data?.pixels) {
    return { pixels: Float32Array.from(data.pixels), rows: data.rows, cols: data.cols, name: data.name ?? null };
  }
  return null;
}

const HANDLERS = {
  async configure({ settings: asked, data, seq }) {
    validate(asked);
    const loaded = await loadData(asked, data);
    // A data set smaller than the batch: the batch becomes the whole set, and the page says so.
    const examples = loaded.train.len();
    const settings = asked.batch_size > examples ? { ...asked, batch_size: examples } : asked;
    let built = null;
    try {
      built = build(settings, loaded, () => new Trainer(trainingSettings(settings), loaded.train));
      await keepCurrentRun();
      install(settings, loaded, dataDescriptor(settings, data), built.trainer, built.chains);
    } catch (error) {
      freeBuilt(built);
      freeData(loaded);
      throw error;
    }
    acknowledge(seq);
    postFrame('ready', { learned: true });
    if (settings !== asked) {
      postMessage({ status: 'note', message: `Batch size set to ${examples}: the data have only ${examples} images.` });
    }
  },

  /** New training settings for the same model: the weights and the update count carry on. */
  retune({ settings: asked, seq }) {
    if (!lab) return;
    // Only the training settings change: the data, the model and the chains stay as they run.
    const settings = { ...lab.settings };
    for (const key of TRAINING_KEYS) settings[key] = asked[key];
    validate(settings);
    const training = trainingSettings({ ...settings, n_hidden: lab.trainer.nHidden });
    finishPendingUpdate();
    const rbm = lab.trainer.model();
    let trainer;
    try {
      trainer = Trainer.resume(training, rbm, lab.train);
      checkUpdateCost(training, lab.m);
      if (lab.heldOut) trainer.setHeldOut(lab.heldOut);
    } catch (error) {
      trainer?.free();
      throw error;
    } finally {
      rbm.free();
    }
    // The background helper's jobs belong to the old trainer: their answers are dropped.
    background.cancel();
    lab.trainer.free();
    lab.trainer = trainer;
    lab.settings = { ...settings, n_hidden: trainer.nHidden };
    lab.updateMs = updateCost(training, lab.m).update / FLOPS_PER_MS;
    applyWorkers();
    // Jobs under way lived in the old trainer.
    lab.distributionJob = null;
    lab.exact = null;
    if (lab.completion) {
      lab.completion = null;
      postMessage({ status: 'use-frame', stopped: 'the training settings changed, so the model was rebuilt: complete again' });
    }
    modelChanged();
    acknowledge(seq);
    postFrame(statusWord());
  },

  /** Settings the chains and the run read live; no new model. */
  view({ settings: asked, seq }) {
    if (!lab) return;
    const settings = { ...lab.settings };
    for (const key of VIEW_KEYS) settings[key] = asked[key];
    validate(settings);
    const betaChanged = settings.beta !== lab.settings.beta;
    if (settings.pace !== lab.settings.pace) lab.paceClock = null;
    const workersChanged = settings.workers !== lab.settings.workers;
    if (workersChanged) finishPendingUpdate();
    lab.settings = settings;
    if (workersChanged) applyWorkers();
    if (betaChanged) resetChainStatistics();
    lab.dirty = lab.valuable;
    acknowledge(seq);
    postFrame(statusWord());
  },

  train({ chains = true } = {}) {
    if (!lab || training) return;
    if (runFinished()) {
      const longest = limits.find((row) => row.id === 'epochs').page.max;
      const epochsDone = Math.ceil(stepsDone() / lab.trainer.stepsPerEpoch);
      postMessage({ status: 'note', message: epochsDone < longest
        ? `The run of ${lab.settings.epochs} epochs is complete: press “Train 10 more epochs” (or raise Epochs) to go on, or Reset for a new model.`
        : `This model has had ${stepsDone().toLocaleString('en')} updates, more than the page's longest run of ${longest.toLocaleString('en')} epochs: press Step to go on one update at a time, or Reset for a new model.` });
      postFrame('finished');
      return;
    }
    training = true;
    finishing = false;
    // With reduced motion the chains keep still frames and step on request.
    if (chains) chainsPlaying = true;
    lab.paceClock = null;
    lab.valuable = true;
    postFrame('training');
  },

  pause() {
    if (!lab) return;
    training = false;
    if (lab.trainer.updateInProgress) {
      const { update } = updateCost(trainingSettings(lab.settings), lab.m);
      if (update / FLOPS_PER_MS <= FINISH_NOW_MS) {
        const slice = finishHere();
        if (slice.updates > 0) modelChanged();
      } else {
        finishing = true;
      }
    }
    postFrame(statusWord(), { learned: true });
    maybeAutosave();
  },

  /** One whole update (finishing any update in progress), then one chain step. */
  step() {
    if (!lab) return;
    training = false;
    finishing = false;
    const ms = updateCost(trainingSettings(lab.settings), lab.m).update / FLOPS_PER_MS;
    if (ms > 500) announceBusy('one update', ms);
    const slice = finishHere();
    lab.valuable = true;
    modelChanged();
    stepChains(1);
    const stats = slice.last ? { ...slice.last, step: stepsDone(), updates: 1 } : null;
    if (stats) pushCurve(lab.curves.recon, [stats.step, stats.reconstruction_error]);
    postFrame('paused', { stats, learned: true, stepped: true });
  },

  chains({ play }) {
    if (!lab) return;
    chainsPlaying = play;
    if (!play) frameStepsLeft = 0;
    postFrame(statusWord());
  },

  chainStep() {
    if (!lab) return;
    chainsPlaying = false;
    frameStepsLeft = lab.settings.steps_per_frame;
  },

  restartChains() {
    if (!lab) return;
    if (lab.settings.chain_start === 'data') lab.chains.restartFromData(lab.train);
    else lab.chains.restartFromNoise();
    lab.chainSteps = 0;
    resetChainStatistics();
    postFrame(statusWord());
  },

  async save() {
    if (!lab) return;
    const files = await engineModule('files');
    if (!lab || poisoned) return;
    finishPendingUpdate();
    const weights = lab.m * lab.trainer.nHidden;
    if (weights > 1e6) announceBusy('writing the model file', weights / 5000);
    const rbm = lab.trainer.model();
    try {
      postMessage({ status: 'saved', text: files.writeModelJson(rbm.parts()), fileName: fileName() });
    } finally {
      rbm.free();
    }
  },

  /** A model file: JSON `text`, or safetensors `bytes` (an ArrayBuffer). */
  async load({ text, bytes, settings, data }) {
    validate(settings);
    const files = await engineModule('files');
    if (poisoned) throw new Error('the engine stopped while the files module loaded');
    announceBusy('reading the model file', (text ?? '').length / 20000 + (bytes?.byteLength ?? 0) / 200000 + 200);
    const rbm = Rbm.fromParts(bytes ? files.readModelSafetensors(new Uint8Array(bytes)) : files.readModelJson(text));
    let loaded = null;
    try {
      try {
        checkPageSetting('n_hidden', rbm.nHidden);
      } catch {
        const { page } = limits.find((row) => row.id === 'n_hidden');
        throw new Error(`this model has ${rbm.nHidden} hidden units; the page works with at most ${page.max} (the engine itself allows more)`);
      }
      loaded = await loadData(settings, data);
      const pixels = loaded.train.rows * loaded.train.cols;
      if (rbm.nVisible !== pixels) {
        throw new Error(`this model has ${rbm.nVisible} visible units but the chosen data has ${pixels} pixels per image: pick the data it was trained on, then load it again`);
      }
      const running = { ...settings, n_hidden: rbm.nHidden };
      const training = trainingSettings(running);
      const built = build(running, loaded, () => Trainer.resume(training, rbm, loaded.train));
      try {
        await keepCurrentRun();
      } catch (error) {
        freeBuilt(built);
        throw error;
      }
      install(running, loaded, dataDescriptor(settings, data), built.trainer, built.chains, { valuable: true });
      loaded = null;
      lab.dirty = true;
      postMessage({ status: 'loaded-model', running: lab.settings, stepsDone: stepsDone() });
      postFrame('ready', { learned: true });
      autosave();
    } finally {
      rbm.free();
      freeData(loaded);
    }
  },

  /** A CSV file's text as images: the pixels go back to the page, which keeps them. */
  parseCsv({ text, rows, cols, name }) {
    let dataset;
    try {
      dataset = Dataset.fromCsv(text, rows, cols);
    } catch (error) {
      if (isFatal(error)) throw error;
      postMessage({ status: 'data-error', message: String(error?.message ?? error).replace(/^data: CSV: /, '') });
      return;
    }
    try {
      const pixels = copy(dataset.pixelsPtr(), dataset.len() * dataset.rows * dataset.cols);
      postMessage({ status: 'data-parsed', pixels, rows: dataset.rows, cols: dataset.cols, count: dataset.len(), name },
        [pixels.buffer]);
    } finally {
      dataset.free();
    }
  },

  async runs() {
    try {
      postMessage({ status: 'runs', runs: await listRuns(), current: lab?.runId ?? null });
    } catch (error) {
      storageBroken = true;
      postMessage({ status: 'runs', runs: [], current: null, unavailable: String(error?.message ?? error) });
    }
  },

  /** Before the page replaces this worker (another Maths): the run is saved and offered back. */
  async keep() {
    await keepCurrentRun();
  },

  async restore({ id }) {
    const saved = await loadRun(id);
    if (!saved) throw new Error('that saved run is no longer stored (only the last few are kept)');
    const { meta, state } = saved;
    // Runs saved before the workers setting ran on one.
    const settings = { workers: 1, ...meta.settings };
    validate(settings);
    announceBusy('restoring a saved run', state.trainer.byteLength / 50000 + 500);
    const loaded = await loadData(settings, state.data);
    let built = null;
    try {
      built = build(settings, loaded, () => Trainer.fromSnapshot(new Uint8Array(state.trainer), new Uint8Array(state.evaluation), loaded.train));
      built.chains.restoreSnapshot(new Uint8Array(state.chains));
      if (built.chains.len() !== settings.chains) {
        throw new Error(`the saved run has ${built.chains.len()} chains but its settings say ${settings.chains}`);
      }
      if (lab?.runId !== meta.id) await keepCurrentRun();
      else stopWork();
      install(settings, loaded, state.data ?? null, built.trainer, built.chains,
        { runId: meta.id, valuable: true, chainSteps: state.chainSteps, curves: state.curves });
    } catch (error) {
      freeBuilt(built);
      freeData(loaded);
      throw error;
    }
    postMessage({ status: 'restored', meta, running: lab.settings, data: lab.data, curves: lab.curves });
    // Runs saved before the Maths setting ran deterministic maths.
    const savedMaths = meta.settings.maths ?? 'deterministic';
    if (savedMaths !== MATHS) {
      postMessage({ status: 'note', message: `This run was trained with ${savedMaths} maths and goes on with ${MATHS} maths (the Maths setting): `
        + `from here its numbers may differ in the last bits from the run it was.` });
    }
    postFrame('paused', { learned: true });
  },

  randomSeed() {
    postMessage({ status: 'random-seed', seed: randomSeed() });
  },

  async forget({ id }) {
    await forgetRun(id);
  },

  /** The critic panel's requests: answered with the same id, errors as messages. */
  critic: panelRequests('critic', async () => {
    criticModule = await engineModule('critic');
    return CRITIC_ACTIONS;
  }, 'critic action'),

  /** The guide page's requests (guidework.js): answered with the same id. */
  guide: panelRequests('guide', async () => {
    useGuideModule(await engineModule('guide'));
    return GUIDE_ACTIONS;
  }, 'guide action'),

  /** The "use the model" panel's requests: answered with the same id. */
  use: panelRequests('use', () => USE_ACTIONS, 'action', () => {
    if (!lab) throw new Error('there is no model yet: wait for it to be built');
  }),

  /** Fault injection for the page tests of crash recovery. */
  injectFault({ kind }) {
    if (kind === 'panic') injectPanic('asked for by the page test');
    if (kind === 'helper') pool.crashNext();
    if (kind === 'background-helper') background.crashNext();
    // As in a browser whose workers cannot start workers: the curves' work all in place
    // (the benchmark compares the two in one run).
    if (kind === 'no-background-helper') background.disable('turned off by the page');
    if (kind === 'hang') for (;;) { /* a worker that never answers again */ }
    if (kind === 'exit') close();
  },
};

// ---- using the model on pictures ------------------------------------------------------------

/** Training pictures placed against: the engine uses the first 1,000. */
const PLACEMENT_ROWS = 1000;

const USE_ACTIONS = {
  picture: ({ heldOut, index }) => lab.trainer.picture(heldOut, index),
  halfMask: ({ half }) => lab.trainer.halfMask(half),
  /** A look inside chain `index`'s current picture: p(h | v) and the reconstruction. */
  inspect({ index }) {
    const chains = lab.chains.len();
    const i = Math.max(0, Math.min(chains - 1, Math.floor(index)));
    const picture = new Float32Array(wasm.memory.buffer, lab.chains.visiblePtr() + i * lab.m * 4, lab.m).slice();
    return { index: i, picture, ...lab.trainer.inspect(picture) };
  },
  /** Starts a completion that the work loop runs a slice at a time, posting 'use-frame's. */
  complete({ image, known, chains, steps, seed }) {
    lab.trainer.startCompletion(image, known, chains, Math.floor(steps / 4), seed >>> 0);
    lab.completion = { left: steps, total: steps, chains };
    return { started: true };
  },
  stopCompletion() {
    lab.completion = null;
    return { stopped: true };
  },
  meanField: ({ image, known }) => lab.trainer.meanFieldCompletion(image, known, 50),
  noise: ({ image, level, seed }) => lab.trainer.flipPixels(image, level, seed >>> 0),
  denoise: ({ noisy, level, method, seed }) => lab.trainer.denoise(noisy, level, method, seed >>> 0),
  place({ image }) {
    const rows = Math.min(PLACEMENT_ROWS, lab.train.len()) + (lab.heldOut?.len() ?? 0);
    const ms = freeEnergyCost(rows, lab.m, lab.trainer.nHidden) / FLOPS_PER_MS;
    if (ms > 500) announceBusy('placing the picture among the data', ms);
    const placement = lab.trainer.place(image);
    if (placement.log_partition !== null) return placement;
    // The model has not changed since its log Z was worked out: that one.
    const known = lab.logPartitionKnown;
    if (known?.version === lab.modelVersion) {
      return { ...placement, log_partition: known.value, log_probability: -placement.free_energy - known.value, log_partition_known: true };
    }
    const pending = startLogPartition();
    return pending ? { ...placement, log_partition_pending: pending } : placement;
  },
};

// ---- the exact log Z of a placed picture ---------------------------------------------------

// A placement leaves log Z unknown when its enumeration is too long for one slice. Up
// to 2^30 terms (784 x 20 takes about 0.6 s in one worker) it is then computed here
// in slices of pieces, shared with the helpers (helpers.js' SharedLogPartition: the same
// bits however the pieces are shared out), and posted as 'use-logz' with its id. The
// job holds a copy of the model as it was placed. lab.logPartition: {id, job, sharing,
// started, version} or null. The value is kept for later scores while the model stays
// as it was (lab.modelVersion).
let nextLogPartitionId = 1;

/** Starts the current model's log Z; {id, pieces, helpers}, or null if it is too large. */
function startLogPartition() {
  stopLogPartition(lab);
  let job;
  try {
    job = lab.trainer.logPartitionJob();
  } catch (error) {
    if (isFatal(error)) throw error;
    return null;
  }
  const id = nextLogPartitionId++;
  // Helpers for every worker the settings allow, also when training's updates are too
  // small to split (784 x 20 is). They stay (warm for the next score; shards go to the
  // first ones only) until the workers are set again for a new trainer or setting.
  if (pool.size < lab.settings.workers - 1) pool.resize(lab.settings.workers - 1);
  const sharing = new SharedLogPartition(job, pool, { pieceMs: job.pieceFlops / FLOPS_PER_MS, onChange: schedule, isFatal });
  lab.logPartition = { id, job, sharing, started: performance.now(), version: lab.modelVersion };
  return { id, pieces: job.pieces, helpers: pool.size };
}

/** Drops `target`'s log Z under way, telling the panel `why` (if given). */
function stopLogPartition(target, why = null) {
  const work = target?.logPartition;
  if (!work) return;
  work.sharing.stop();
  work.job.free();
  target.logPartition = null;
  if (why) postMessage({ status: 'use-logz', id: work.id, stopped: why });
}

/** Whether the log Z under way has a piece to compute here, or is done. */
function logPartitionWork() {
  const sharing = lab?.logPartition?.sharing;
  return Boolean(sharing && (sharing.canStep || sharing.done));
}

/** Pieces of the log Z under way (about 8 ms each at 784 x 20), and its value once done. */
function logPartitionSlice() {
  const work = lab.logPartition;
  if (!work) return;
  try {
    // Pieces for up to a slice's time (the helpers' answers are read between slices;
    // each has two tasks of pieces queued, more than a slice's worth).
    const started = performance.now();
    while (work.sharing.canStep && !work.sharing.done && performance.now() - started < SLICE_MS) work.sharing.step();
  } catch (error) {
    if (isFatal(error)) throw error;
    stopLogPartition(lab, `log Z could not be worked out: ${error?.message ?? error}`);
    return;
  }
  if (!work.sharing.done) return;
  const message = {
    status: 'use-logz',
    id: work.id,
    logPartition: work.sharing.value,
    ms: performance.now() - work.started,
    pieces: work.job.pieces,
    here: work.sharing.here,
  };
  lab.logPartitionKnown = { version: work.version, value: message.logPartition };
  stopLogPartition(lab);
  postMessage(message);
}

/** A slice of the completion under way, and a frame of it for the panel. */
function completionSlice() {
  const job = lab.completion;
  if (!job) return;
  const perStep = gibbsStepCost(job.chains, lab.m, lab.trainer.nHidden);
  const steps = Math.max(1, Math.min(job.left, Math.floor(SLICE_FLOPS / perStep)));
  lab.trainer.advanceCompletion(steps, 1);
  job.left -= steps;
  const state = lab.trainer.completionState();
  const states = Float32Array.from(state.states);
  const mean = Float32Array.from(state.mean);
  postMessage({ status: 'use-frame', states, mean, steps: state.steps, total: job.total, chains: state.chains, done: job.left === 0 },
    [states.buffer, mean.buffer]);
  if (job.left === 0) lab.completion = null;
}

// ---- the critic (the article's first example) ---------------------------------------------

/** The engine's critic module (src/wasm/critic.rs), loaded on the panel's first request. */
let criticModule = null;
let critics = null;

function learnedCritics() {
  if (!critics) throw new Error('the critics have not learned yet: press "Learn from these reviews"');
  return critics;
}

const CRITIC_ACTIONS = {
  corpus: () => criticModule.Critics.builtInCorpus(),
  /** New models from the reviews; the old ones stay if these cannot be learned. */
  train({ names, reviews, k, seed, heldOut }) {
    const next = new criticModule.Critics(names, reviews, k, seed >>> 0);
    critics?.free();
    critics = next;
    const [right, total] = critics.attributionScore(heldOut);
    return { vocabulary: critics.vocabulary(), counts: Array.from(critics.reviewCounts()), right, total };
  },
  table: ({ which, first, second }) => learnedCritics().table(which, first, second),
  sample: ({ which, temperature }) => learnedCritics().sample(which, temperature),
  complete: ({ which, text, temperature }) => learnedCritics().complete(which, text, temperature),
  attribute: ({ text }) => learnedCritics().attribute(text),
};

/**
 * A handler for a panel's requests `{action, id, ...fields}`: the action's result, or
 * its error as a message, comes back under `status` with the same id. `actions()`
 * gives the table, or a promise of it (looked up late: the tables are defined after
 * the handlers, and their engine module loads on the first request); `check` runs
 * before the action and throws when it cannot run yet.
 */
function panelRequests(status, actions, what, check = () => {}) {
  return async ({ action, id, ...request }) => {
    try {
      const act = (await actions())[action];
      if (!act) throw new Error(`unknown ${what} ${action}`);
      check();
      postMessage({ status, id, action, result: act(request) });
    } catch (error) {
      if (isFatal(error)) throw error;
      postMessage({ status, id, action, error: String(error?.message ?? error) });
    }
  };
}

/**
 * One of the engine's other modules (src/wasm/mod.rs: files, critic, guide), fetched
 * and instantiated on its first use. A module that fails to load is tried again on the
 * next request, under a new query (a browser keeps a failed import of one URL failed).
 */
const otherModules = new Map();
const moduleFailures = new Map();
function engineModule(name) {
  if (!otherModules.has(name)) {
    const failures = moduleFailures.get(name) ?? 0;
    const url = failures ? `./pkg/${name}.js?attempt=${failures + 1}` : `./pkg/${name}.js`;
    const loading = import(url).then(async (module) => {
      await module.default();
      return module;
    }).catch((error) => {
      otherModules.delete(name);
      moduleFailures.set(name, failures + 1);
      throw new Error(`the engine's ${name} module did not load (${error?.message ?? error}): check the connection and try again`);
    });
    otherModules.set(name, loading);
  }
  return otherModules.get(name);
}

// Messages are handled one at a time, in order, once the engine has loaded. A ping is
// answered at once (it is how the page knows the worker is alive), but only once the
// engine has loaded: a worker whose engine did not load says so instead.
let engineLoaded = false;
async function loadEngine() {
  let module;
  try {
    module = await import(modulePath('rbm_lab', MATHS));
    wasm = await module.default();
  } catch (error) {
    if (MATHS !== 'fast') throw error;
    // The fast build did not load (a site published without it, a network error):
    // the deterministic one runs, and so do the helpers (maths.js).
    fastUnavailable = `The fast maths build did not load (${error?.message ?? error})`;
    MATHS = fallBackToDeterministic();
    module = await import(modulePath('rbm_lab', MATHS));
    wasm = await module.default();
  }
  ({
    Dataset, Trainer, Chains, Rbm, settingLimits, randomSeed, checkPageSetting, updateCost, gibbsStepCost,
    freeEnergyCost, distributionCost, injectPanic,
  } = module);
  useLabModule(module);
}
let queue = loadEngine().then(() => {
  limits = settingLimits();
  engineLoaded = true;
  postMessage({ status: 'engine-ready', limits, seed: randomSeed(), maths: MATHS, fastUnavailable });
}, (error) => {
  postMessage({ status: 'unavailable', message: String(error?.message ?? error) });
  throw error;
});
onmessage = ({ data }) => {
  if (data?.command === 'ping') {
    if (engineLoaded) postMessage({ status: 'pong' });
    return;
  }
  queue = queue.then(async () => {
    if (poisoned) return;
    const handler = HANDLERS[data?.command];
    if (!handler) throw new Error(`unknown command ${data?.command}`);
    await handler(data);
    schedule();
    postMessage({ status: 'handled', handled: data.cmd });
  }).catch((error) => {
    if (!engineLoaded) return;
    acknowledge(data?.seq);
    reportError(error, data?.command);
    postMessage({ status: 'handled', handled: data.cmd });
    if (lab && !poisoned) schedule();
  }).catch(() => { /* nothing may break the queue */ });
};
