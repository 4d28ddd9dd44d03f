// The guide page's requests, answered in the lab's worker (worker.js routes the
// `guide` command here). Every number comes from the engine: exact enumeration on the
// tiny models (the guide module, src/wasm/guide.rs) and the lab's own Trainer for the race. Each request is
// small: the tiny models have at most 2^12 joint states, and the race advances its
// five trainers by a bounded number of updates per request.
/** The lab module (src/wasm/lab.rs) the worker loaded: its Dataset and Trainer. */
let lab = null;
export function useLabModule(module) {
  lab = module;
}

/** The engine's guide module (src/wasm/guide.rs), handed over before each request. */
let guide = null;
export function useGuideModule(module) {
  guide = module;
}

/** A lab model as the guide module's tiny model: `{nVisible, nHidden, weights, visibleBias, hiddenBias}`. */
function tinyParams(model) {
  const { nVisible, nHidden, weights, visibleBias, hiddenBias } = model.parts();
  return { nVisible, nHidden, weights: Array.from(weights), visibleBias: Array.from(visibleBias), hiddenBias: Array.from(hiddenBias) };
}

/** The race of step 8 and the picture model of step 2: 3 x 3 bars and stripes. */
const SIDE = 3;
export const RACE_RUNNERS = [
  { label: 'exact gradient', algorithm: 'exact', k: 1 },
  { label: 'Gibbs from noise (10 steps)', algorithm: 'gibbs', k: 10 },
  { label: 'CD-1', algorithm: 'cd', k: 1 },
  { label: 'CD-10', algorithm: 'cd', k: 10 },
  { label: 'PCD-1', algorithm: 'pcd', k: 1 },
];
const MAX_RACE_STEPS = 200;

let bars = null;
let pictureModel = null;
/** Chains by name: step 6's walk and step 7's animation each have their own. */
const chains = new Map();
let race = null;

function barsData() {
  bars ??= lab.Dataset.barsAndStripes(SIDE);
  return bars;
}

function trainer(algorithm, k, rate, seed) {
  const data = barsData();
  return new lab.Trainer({
    n_hidden: 6, algorithm, k, learning_rate: rate, momentum: 0, weight_decay: 0,
    batch_size: data.len(), persistent_chains: 0, seed,
  }, data);
}

/** Whole numbers in a range, for counts a request may carry. */
function whole(name, value, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
  return value;
}

function chainNamed(name) {
  const chain = chains.get(name);
  if (!chain) throw new Error(`no chain ${name} yet`);
  return chain;
}

function freeRace() {
  for (const runner of race?.trainers ?? []) runner.free();
  race = null;
}

export const GUIDE_ACTIONS = {
  joint: ({ params }) => guide.guideJointTable(params),
  inputs: ({ params, visible }) => guide.guideHiddenInputs(params, Float32Array.from(visible)),
  gradient: ({ params, patterns }) => guide.guideGradient(params, Float32Array.from(patterns.flat())),
  gradientStep: ({ params, patterns, rate }) => guide.guideGradientStep(params, Float32Array.from(patterns.flat()), rate),
  clamped: ({ params, clamp }) => Array.from(guide.guideClamped(params, Int8Array.from(clamp))),
  sigmoid: ({ xs }) => Array.from(guide.guideSigmoid(Float64Array.from(xs))),

  /** Step 2's model: 6 hidden units trained by the exact gradient on 3 x 3 bars and stripes. */
  pictureModel() {
    if (!pictureModel) {
      const t = trainer('exact', 1, 0.5, 1);
      try {
        t.steps(2000);
        const model = t.model();
        pictureModel = { params: tinyParams(model), logLikelihood: t.meanLogLikelihood(barsData()), patterns: barsData().len() };
        model.free();
      } finally {
        t.free();
      }
    }
    return pictureModel;
  },

  /** A new chain on `params` with its weights scaled by `scale`, from visible state `start`. */
  chainNew({ name, params, scale, start, seed }) {
    const chain = new guide.GuideChain(params, scale, start, seed);
    chains.get(name)?.free();
    chains.set(name, chain);
    return chain.state();
  },
  chainRun({ name, steps, lags = 0 }) {
    const chain = chainNamed(name);
    chain.run(whole('steps', steps, 0, 100000));
    return { ...chain.state(), autocorrelation: Array.from(chain.autocorrelation(whole('lags', lags, 0, 100))) };
  },
  chainHalfStep({ name }) {
    const chain = chainNamed(name);
    chain.halfStep();
    return chain.state();
  },

  /** Five trainers from the same start (one seed) at one rate; their exact log-likelihoods. */
  raceNew({ rate, seed }) {
    freeRace();
    const trainers = [];
    try {
      for (const runner of RACE_RUNNERS) trainers.push(trainer(runner.algorithm, runner.k, rate, seed));
    } catch (error) {
      for (const t of trainers) t.free();
      throw error;
    }
    race = { trainers, steps: 0 };
    return raceState();
  },
  raceRun({ steps }) {
    if (!race) throw new Error('no race yet');
    const count = whole('steps', steps, 1, MAX_RACE_STEPS);
    for (const t of race.trainers) t.steps(count);
    race.steps += count;
    return raceState();
  },
};

function raceState() {
  return {
    steps: race.steps,
    runners: RACE_RUNNERS.map((r) => r.label),
    logLikelihood: race.trainers.map((t) => t.meanLogLikelihood(barsData())),
    // The best possible: every one of the patterns equally likely, nothing else.
    best: -Math.log(barsData().len()),
  };
}
