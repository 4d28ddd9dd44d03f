// The page: builds the controls from the settings table, keeps the running settings in
// the URL hash, sends commands to the engine's worker (through a watchdog that replaces
// a dead worker) and draws what it sends back at the display's frame rate. The main
// thread never trains or samples.
//
// Two sets of settings: `values`, what the form shows, and `running`, what the worker
// reports it runs. The hash always holds `running`; a setting the worker refuses puts
// the form back to `running`, so nothing on screen claims a run that is not happening.
import { SETTINGS, DATASETS, DEFAULTS, PRESETS, LIMITS, applyLimits, rangeProblem, parseHash, toHash, withDefaults,
  encodePatterns, decodePatterns } from './settings.js';
import { EngineConnection } from './engine.js';
import { LineChart } from './charts.js';
import { drawImages, drawFilters, drawSignedImage, drawBars, drawDistribution } from './render.js';
import { DrawEditor, patternsToPixels, parsePngs, MAX_CSV_BYTES } from './datainput.js';
import { CriticPanel } from './critic.js';
import { UsePanel } from './usepanel.js';

const $ = (id) => document.getElementById(id);
const CHAIN_SETTINGS = ['chains', 'beta', 'steps_per_frame', 'chain_start', 'chain_show'];
// Which settings need a new model, which a new optimiser for the same model, and which
// only change what the chains and the run do.
const MODEL_KEYS = new Set(['data', 'side', 'n_hidden', 'seed', 'chains', 'maths']);
/** Settings that show or hide other fields. */
const FIELD_SHAPERS = new Set(['algorithm', 'decay_epochs', 'sparsity_cost']);
const TRAINING_KEYS = new Set(['algorithm', 'k', 'learning_rate', 'momentum', 'weight_decay', 'batch_size', 'persistent_chains',
  'temperatures', 'beta_min', 'decay_epochs', 'final_learning_rate', 'centring', 'sparsity_cost', 'sparsity_target']);
/**
 * Frames of the chain-over-time strip: about 40 px each, 4 to 16 of them. The width
 * comes from a ResizeObserver: reading clientWidth on each frame forced a layout in the
 * middle of the message handler (about 30 ms of the first second on a slow machine).
 */
let stripWidth = 640;
new ResizeObserver(([entry]) => { stripWidth = entry.contentRect.width || 640; }).observe($('strip'));
const stripFrames = () => Math.max(4, Math.min(16, Math.floor(stripWidth / 40)));
const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;
const FREE_ENERGY_CHAINS = 6;
/** The page reads model files up to this size (a 784 x 2000 model takes about 20 MB). */
const MAX_MODEL_FILE_BYTES = 160e6;
/** A second crash within this time of the first is not restored automatically. */
const CRASH_WINDOW_MS = 30000;
const LABELS = {
  cd: 'CD-k', pcd: 'PCD-k', gibbs: 'Gibbs from noise', exact: 'Exact (enumeration)',
  noise: 'noise', data: 'training images', sample: 'sampled states', mean: 'probabilities p(v | h)',
};

let values = null; // what the form shows
let running = null; // what the worker runs
let runId = null;
let loadedData = null; // {pixels, rows, cols, count, name} from a file
let pendingData = null; // 'drawn' or 'loaded' while waiting for patterns or a file
let lastChange = null; // {label, value}: the setting changed last, for crash messages
const ACTIONS = { train: 'training', pause: 'pausing', chainStep: 'stepping the chains', step: 'making one update',
  load: 'loading a model file', restore: 'restoring a saved run', configure: 'building a model',
  retune: 'changing a setting', view: 'changing a setting', save: 'saving the model', parseCsv: 'reading a CSV file',
  restartChains: 'restarting the chains', chains: 'starting or pausing the chains' };
const inFlight = new Map(); // command number -> what it does, until the worker has handled it
let commandsSent = 0;
let sent = 0; // settings commands sent, and the last one the worker has applied
let applied = 0;
let configuring = 0; // the last configure command's number
let recovering = null;
let crashTimes = [];
let savedRuns = [];
let lastAutosave = null;
let latest = null; // newest frame, drawn on the next animation frame
let shown = null; // the frame on the screen
let learned = null; // newest weights, drawn on the next animation frame
let learnedWaited = false; // the weights waited one animation frame for a frame of samples
let activation = null; // newest mean activation of the hidden units, likewise
let training = false;
let chainsPlaying = false;
let lastChainSteps = 0;
let lastVisited = 0;
let currentShape = [1, 1]; // image shape of the model being drawn
let formBuilt = false;
let usePanelRun = null; // the run the use panel was last told about
const strip = [];

// ---- controls, built from the table -------------------------------------------------

/**
 * A setting's row: its name, an info button (i) that shows what it does (help that touch can
 * reach, not only a hover title), and its control.
 */
function buildField(setting) {
  const row = document.createElement('div');
  row.className = 'field-row';
  row.id = `field-${setting.id}`;
  const label = document.createElement('label');
  label.htmlFor = setting.id;
  label.textContent = setting.label;
  const info = document.createElement('button');
  info.type = 'button';
  info.className = 'info';
  info.textContent = 'i';
  info.setAttribute('aria-label', `What ${setting.label} does`);
  info.setAttribute('aria-expanded', 'false');
  const help = document.createElement('p');
  help.className = 'field-help';
  help.id = `help-${setting.id}`;
  help.hidden = true;
  info.setAttribute('aria-controls', help.id);
  info.addEventListener('click', () => {
    help.hidden = !help.hidden;
    info.setAttribute('aria-expanded', String(!help.hidden));
  });
  let input;
  if (setting.kind === 'choice') {
    input = document.createElement('select');
    for (const option of setting.options) {
      input.append(new Option(setting.id === 'data' ? DATASETS[option] : LABELS[option] ?? option, option));
    }
    label.title = setting.help;
  } else {
    input = document.createElement('input');
    input.type = 'number';
    input.min = setting.min;
    input.max = setting.max;
    input.step = setting.integer ? '1' : 'any';
    input.inputMode = setting.integer ? 'numeric' : 'decimal';
    label.title = `${setting.help} Allowed: ${setting.allowed}.`;
  }
  input.id = setting.id;
  input.name = setting.id;
  input.title = label.title;
  help.textContent = label.title;
  input.addEventListener('change', () => onSettingChange(setting.id));
  // Leaving a field shows what runs again (showValues skips the field being typed in).
  input.addEventListener('blur', () => queueMicrotask(showValues));
  const name = document.createElement('span');
  name.className = 'field-name';
  name.append(label, info);
  row.append(name);
  if (setting.id === 'seed') {
    // A new seed from the platform's randomness, one click away.
    const dice = document.createElement('button');
    dice.type = 'button';
    dice.id = 'seed-dice';
    dice.className = 'info';
    dice.textContent = '🎲';
    dice.title = 'A new random seed (a new run)';
    dice.setAttribute('aria-label', 'A new random seed');
    dice.addEventListener('click', () => sendQuietly('randomSeed'));
    row.append(dice);
  }
  row.append(input, help);
  return row;
}

/** The lab's own settings (other panels build theirs). */
const LAB_SETTINGS = SETTINGS.filter((s) => !s.panel);

function buildForm() {
  for (const setting of LAB_SETTINGS) {
    $(CHAIN_SETTINGS.includes(setting.id) ? 'chain-fields' : 'fields').append(buildField(setting));
  }
  // The data panel's own sizes come from the same table.
  for (const [id, row] of [['draw-side', 'draw_side'], ['load-rows', 'image_side'], ['load-cols', 'image_side']]) {
    Object.assign($(id), { min: LIMITS[row].page.min, max: LIMITS[row].page.max });
  }
  $('max-side').textContent = String(LIMITS.image_side.page.max);
  for (const preset of PRESETS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = preset.name;
    button.title = preset.title;
    button.addEventListener('click', () => {
      location.hash = toHash(withDefaults({ ...DEFAULTS[preset.values.data], ...critic.values, ...usePanel.values, ...preset.values,
        seed: values.seed, maths: values.maths }));
    });
    $('presets').append(button);
  }
  buildEditor();
  formBuilt = true;
}

function showValues() {
  if (!formBuilt) return;
  for (const setting of LAB_SETTINGS) {
    const field = $(setting.id);
    // A field being typed in keeps what is typed: its change event will apply it. (A
    // frame arriving mid-typing used to overwrite it, and the change was lost.)
    if (field === document.activeElement && field.tagName === 'INPUT') continue;
    field.value = String(values[setting.id]);
  }
  $('pace').value = String(values.pace);
  $('field-side').hidden = values.data !== 'bars';
  $('field-persistent_chains').hidden = values.algorithm !== 'pcd' && values.algorithm !== 'tempering';
  for (const id of ['temperatures', 'beta_min']) $(`field-${id}`).hidden = values.algorithm !== 'tempering';
  $('field-final_learning_rate').hidden = !(values.decay_epochs > 0);
  $('field-sparsity_target').hidden = !(values.sparsity_cost > 0);
  $('field-k').hidden = values.algorithm === 'exact';
  $('drawn-editor').hidden = values.data !== 'drawn';
  $('loaded-editor').hidden = values.data !== 'loaded';
}

function readValue(setting) {
  const raw = $(setting.id).value;
  if (setting.kind === 'choice') return raw;
  // An empty field is not 0: it is refused with the allowed range.
  return raw.trim() === '' ? NaN : Number(raw) + 0;
}

function saveHash() {
  if (running) history.replaceState(null, '', toHash({ ...running, ...critic.values, ...usePanel.values }));
}

function label(id) {
  return SETTINGS.find((s) => s.id === id)?.label ?? id;
}

function onSettingChange(id) {
  const setting = SETTINGS.find((s) => s.id === id);
  const value = readValue(setting);
  if (setting.kind !== 'choice') {
    const problem = rangeProblem(id, value);
    if (problem) {
      showError(`${setting.label}: ${problem}`);
      $(id).value = String(values[id]);
      return;
    }
  }
  if (id === 'maths' && value === 'fast' && !fastAvailable) {
    // Said once at start-up; a model built again would change nothing.
    showNotice(`${fastUnavailableReason}: the lab runs its deterministic maths.`);
    $(id).value = values.maths;
    return;
  }
  lastChange = { label: setting.label, value };
  if (setting.kind !== 'choice') $(id).value = String(value); // "1e-400" shows as the 0 it is
  if (id === 'data') {
    // A new data set brings its own defaults; the seed stays.
    values = withDefaults({ ...DEFAULTS[value], data: value, seed: values.seed, maths: values.maths, patterns: values.patterns });
    showValues();
    configure();
    return;
  }
  // While a new model is being built, a change joins its settings (applied to the model
  // that is about to be replaced, it would be lost).
  const building = applied < configuring;
  if (!building && (pendingData || !MODEL_KEYS.has(id))) {
    // Applied to the model that runs: only this field changes.
    values = { ...(running ?? values), [id]: value, ...(pendingData ? { data: pendingData } : {}) };
    if (FIELD_SHAPERS.has(id)) showValues();
    if (MODEL_KEYS.has(id)) configure();
    else sendSettings(TRAINING_KEYS.has(id) ? 'retune' : 'view', { settings: { ...(running ?? values), [id]: value } });
    return;
  }
  values = { ...values, [id]: value };
  if (FIELD_SHAPERS.has(id)) showValues();
  configure();
}

// ---- the engine ----------------------------------------------------------------------------

// This tab's name in the saved runs: a replaced worker keeps it, so it may go on
// saving the run it restores; another tab that restores the same run saves a copy.
const workerUrl = new URL('./worker.js', import.meta.url);
workerUrl.searchParams.set('tab', `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`);
// The engine's build (maths.js): the address's maths from the first load on, so that
// a link to a fast run starts the fast engine at once.
if (/(^|[#&])maths=fast(&|$)/.test(location.hash)) workerUrl.searchParams.set('maths', 'fast');
/** The maths the engine runs ('deterministic' or 'fast'): null while one starts. */
let engineMaths = null;
/** False once an engine said this browser cannot run fast maths, and why. */
let fastAvailable = true;
let fastUnavailableReason = '';
const engine = new EngineConnection({
  url: workerUrl,
  onMessage,
  onRestart,
  onUnavailable: (reason) => {
    setStatus(`The engine could not start: ${reason}. Reload the page; if that does not help, this browser may lack WebAssembly in workers.`);
  },
});

/** Sends a command a person asked for: the message line is cleared for its answer. */
function send(command, extra = {}) {
  setMessage('');
  sendQuietly(command, extra);
}

/** Sends a command, numbered so that the worker's answers say which it has handled. */
function sendQuietly(command, extra = {}) {
  commandsSent += 1;
  if (ACTIONS[command]) inFlight.set(commandsSent, ACTIONS[command]);
  engine.send(command, { ...extra, cmd: commandsSent });
}

/** The worker has handled every command up to `handled`. */
function handledUpTo(handled) {
  for (const n of inFlight.keys()) if (n <= handled) inFlight.delete(n);
  if (switching && handled >= switching.keepCmd) replaceEngine();
}

/** What the engine was doing: the oldest command not yet handled, else what runs. */
function currentAction() {
  const [first] = inFlight.values();
  if (first) return first;
  if (training) return 'training';
  if (chainsPlaying) return 'running the chains';
  return 'idle';
}

/** The settings the worker needs, with the command's sequence number. */
function sendSettings(command, extra = {}) {
  sent += 1;
  send(command, { settings: { ...values }, ...extra, seq: sent });
}

const MISSING = Symbol('missing data');

/** Pixels of drawn or loaded images for the chosen data, MISSING when there are none yet. */
function dataPayload(settings) {
  if (settings.data === 'drawn') {
    const drawn = decodePatterns(settings.patterns);
    if (drawn.error || drawn.patterns.length === 0) return MISSING;
    return { pixels: patternsToPixels(drawn.patterns), rows: drawn.side, cols: drawn.side };
  }
  if (settings.data === 'loaded') {
    if (!loadedData) return MISSING;
    return { pixels: loadedData.pixels, rows: loadedData.rows, cols: loadedData.cols, name: loadedData.name };
  }
  return null;
}

/**
 * Starts the engine's other build in place of this one. The current run is kept first
 * (saved in this browser and offered back, as when Hidden units change; at most
 * KEEP_BEFORE_SWITCH_MS is waited for it), then the worker is replaced and, on its
 * 'engine-ready', the model is built afresh from the settings (configure).
 */
const KEEP_BEFORE_SWITCH_MS = 3000;
let switching = null; // {maths, keepCmd, timer} while the old engine keeps its run
function switchEngine(maths) {
  engineMaths = null;
  setTraining(false);
  setChainsPlaying(false);
  stepsPending = 0;
  setStatus(`Starting the engine with ${maths} maths…`);
  sendQuietly('keep');
  switching = { maths, keepCmd: commandsSent, timer: setTimeout(() => replaceEngine(), KEEP_BEFORE_SWITCH_MS) };
}

/** The second half of switchEngine: once the old engine kept its run (or took too long). */
function replaceEngine() {
  if (!switching) return;
  const { maths, timer } = switching;
  clearTimeout(timer);
  switching = null;
  if (maths === 'fast') workerUrl.searchParams.set('maths', 'fast');
  else workerUrl.searchParams.delete('maths');
  inFlight.clear();
  rejectPanelRequests('the engine was switched to other maths; try again');
  usePanel.engineRestarted();
  // No model runs until the new engine builds one; a data choice still waiting for its
  // images gets MNIST meanwhile, as on a first visit.
  running = null;
  fallbackTried = false;
  engine.switchTo(workerUrl);
}

function configure() {
  // Fast maths needs the engine's other build: a new worker, then this again.
  if (!engineMaths) return;
  const maths = values.maths === 'fast' && fastAvailable ? 'fast' : 'deterministic';
  if (maths !== engineMaths) {
    switchEngine(maths);
    return;
  }
  const data = dataPayload(values);
  if (data === MISSING) {
    pendingData = values.data;
    if (running) {
      // The form shows what runs; the data choice waits for its images.
      values = { ...running, data: pendingData };
      showValues();
      saveHash();
    }
    const meanwhile = running ? `the ${DATASETS[running.data]} model keeps running until then`
      : 'meanwhile MNIST runs with its defaults';
    setNote(values.data === 'drawn'
      ? `Draw a pattern on the grid, press Add pattern, repeat for a few, then press Train on these; ${meanwhile}.`
      : `Choose a CSV file or PNG images in the Data panel; ${meanwhile}.`);
    if (!running) buildFallback();
    return;
  }
  pendingData = null;
  setTraining(false);
  setChainsPlaying(false);
  setStatus('Building the model…');
  sendSettings('configure', { data });
  configuring = sent;
}

/** When nothing runs yet and the chosen data cannot be built: MNIST's defaults meanwhile (once). */
let fallbackTried = false;
function buildFallback() {
  if (fallbackTried) return;
  fallbackTried = true;
  sent += 1;
  sendQuietly('configure', { settings: withDefaults({ data: 'mnist', seed: values.seed }), seq: sent, data: null });
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

/**
 * The message line under the status: what went wrong, or what to do next. It stays
 * until the next command; the status line above it goes on showing the run.
 */
function setMessage(text, kind = 'note') {
  $('message').textContent = text;
  $('message').dataset.kind = kind;
  $('message').hidden = !text;
}

function showError(text) {
  setMessage(`Error: ${text}`, 'error');
}

/** A plain note (not an error): what to do next. */
function setNote(text) {
  setMessage(text, 'note');
}

function showNotice(text) {
  $('notice-text').textContent = text;
  $('notice').hidden = !text;
}

/** The form and the hash follow what the worker runs. */
function adopt(settings) {
  running = settings;
  values = { ...settings, ...(pendingData ? { data: pendingData } : {}) };
  showValues();
  saveHash();
}

function onMessage(data) {
  if (data.handled !== undefined) handledUpTo(data.handled);
  if (data.status === 'handled') return undefined;
  if (data.status === 'busy') return onBusy(data);
  switch (data.status) {
    case 'engine-ready':
      engineMaths = data.maths;
      if (data.fastUnavailable) {
        fastAvailable = false;
        fastUnavailableReason = data.fastUnavailable;
        workerUrl.searchParams.delete('maths');
        showNotice(`${data.fastUnavailable}: the lab runs its deterministic maths (the same results, at most a little slower).`);
      }
      engineReady(data.limits, data.seed);
      return;
    case 'random-seed':
      values = { ...(running ?? values), seed: data.seed };
      showValues();
      configure();
      return;
    case 'error':
      if (data.command === 'step') stepsPending = Math.max(0, stepsPending - 1);
      if (data.seq !== undefined) applied = Math.max(applied, data.seq);
      // A refused setting: the form and the address go back to what runs. A data
      // choice still waiting for patterns or a file is dropped only when it was the
      // data that could not be used.
      if (data.running) {
        if (['configure', 'load', 'restore'].includes(data.command)) pendingData = null;
        adopt(data.running);
      }
      if (!running && data.command === 'configure' && !fallbackTried) {
        showError(`${data.message}. Meanwhile MNIST runs with its defaults.`);
        setStatus('Building MNIST with its defaults instead…');
        buildFallback();
        return;
      }
      showError(data.message);
      if (!running) setStatus('No model is running: see the message below.');
      return;
    case 'note':
      setNote(data.message);
      return;
    case 'warning':
      showNotice(data.message);
      return;

    case 'saved':
      download(data.text, data.fileName);
      return;
    case 'loaded-model':
      pendingData = null;
      adopt(data.running);
      setNote(`Model loaded: ${running.n_hidden} hidden units, step ${data.stepsDone.toLocaleString('en')}. Press Train to go on training it.`);
      return;
    case 'data-parsed':
      useLoadedData(data);
      return;
    case 'data-error':
      $('load-status').textContent = `Could not use the file: ${data.message}`;
      return;
    case 'runs':
      savedRuns = data.runs;
      if (data.unavailable) $('autosave-status').textContent = `Autosave is unavailable here: ${data.unavailable}.`;
      if (recovering?.waitingForRuns) recover();
      else showSavedRun();
      return;
    case 'kept':
      sendQuietly('runs');
      return;
    case 'autosaved':
      lastAutosave = data.meta;
      $('autosave-status').textContent = `Saved in this browser at ${new Date(data.meta.savedAt).toLocaleTimeString('en-GB')} (step ${data.meta.stepsDone.toLocaleString('en')}); a reload offers it back.`;
      return;
    case 'restored':
      restored(data);
      return;
    case 'critic':
    case 'use':
      answerPanel(data);
      return;
    case 'use-frame':
      usePanel.frame(data);
      return;
    case 'use-logz':
      usePanel.logPartition(data);
      return;
    default:
      receiveFrame(data);
  }
}

function onBusy(data) {
  if (data.status === 'busy') setStatus(`Working: ${data.what} (about ${Math.max(1, Math.round(data.expectedMs / 1000))} s)…`);
}

function engineReady(limits, freshSeed) {
  if (!formBuilt) {
    applyLimits(limits);
    buildForm();
    const { values: fromHash, problems } = parseHash(location.hash);
    values = fromHash;
    // A first visit (no settings in the address) gets a seed from the platform; the
    // address then holds it, so the run stays shareable. A link's seed replays.
    if (!/(^|[#&])seed=/.test(location.hash)) values.seed = freshSeed;
    // On a phone the settings fold away below the samples.
    if (matchMedia('(max-width: 700px)').matches) $('settings-details').open = false;
    if (problems.length) showNotice(`Some settings in the address were not used: ${problems.join('; ')}.`);
    showValues();
    restoreDrawn();
    configure();
    sendQuietly('runs');
    critic.start(fromHash);
    usePanel.start(fromHash);
    return;
  }
  critic.restart();
  if (recovering) {
    recovering.waitingForRuns = true;
    sendQuietly('runs');
    return;
  }
  // Started for other maths (switchEngine): the model is built afresh, and the run
  // kept before the switch is offered back.
  configure();
  sendQuietly('runs');
}

// ---- a dead worker ---------------------------------------------------------------------------

function onRestart(reason) {
  const now = performance.now();
  crashTimes = crashTimes.filter((t) => now - t < CRASH_WINDOW_MS);
  crashTimes.push(now);
  recovering = { reason, action: currentAction(), repeated: crashTimes.length > 1 };
  engineMaths = null; // until the new worker is ready: nothing is built meanwhile
  if (switching) {
    clearTimeout(switching.timer);
    switching = null;
  }
  inFlight.clear();
  rejectPanelRequests('the engine was restarted; try again');
  usePanel.engineRestarted();
  setTraining(false);
  setChainsPlaying(false);
  showNotice(`The engine stopped while ${recovering.action}: ${reason}. Starting a fresh one…`);
  setStatus('Restarting the engine…');
}

/** After a restart: the last good model and settings, paused; never the same crash twice. */
function recover() {
  const { reason, action, repeated } = recovering;
  recovering = null;
  const advice = lastChange ? `If it stops again, change ${lastChange.label} = ${lastChange.value}.`
    : 'If it stops again, try smaller settings (fewer hidden units or chains, a smaller batch).';
  if (repeated) {
    const cause = lastChange ? `The last setting changed, ${lastChange.label} = ${lastChange.value}, may be the cause: choose a smaller value.`
      : 'Try smaller settings (fewer hidden units, chains or a smaller batch).';
    showNotice(`The engine stopped again while ${action}: ${reason}. To avoid a loop it was started with the defaults `
      + `instead of the last settings. ${cause} Your saved run is listed below.`);
    values = withDefaults({ data: running?.data === 'drawn' || running?.data === 'loaded' ? 'mnist' : running?.data ?? 'mnist' });
    running = null;
    lastChange = null;
    showValues();
    configure();
    showSavedRun();
    return;
  }
  const saved = savedRuns.find((run) => run.id === runId);
  if (saved) {
    showNotice(`The engine stopped while ${action}: ${reason}. It was restarted and the last good model `
      + `(step ${saved.stepsDone.toLocaleString('en')}, saved at ${new Date(saved.savedAt).toLocaleTimeString('en-GB')}) `
      + `is restored, paused. ${advice}`);
    send('restore', { id: saved.id });
    return;
  }
  const lost = lastAutosave?.id === runId
    ? 'its autosave is no longer stored (other tabs have saved newer runs since)'
    : 'nothing had been saved yet';
  showNotice(`The engine stopped while ${action}: ${reason}. It was restarted; ${lost}, so the model `
    + `was built afresh from the last settings, paused. ${advice}`);
  if (running) values = { ...running };
  showValues();
  configure();
}

// ---- saved runs -----------------------------------------------------------------------------

function showSavedRun() {
  const other = savedRuns.find((run) => run.id !== runId);
  $('saved-run').hidden = !other;
  if (!other) return;
  $('saved-run').dataset.id = other.id;
  $('saved-run-text').textContent = `Saved run: ${other.title}, saved ${ago(other.savedAt)}.`;
}

function ago(time) {
  const seconds = Math.max(0, (Date.now() - time) / 1000);
  if (seconds < 90) return 'just now';
  if (seconds < 5400) return `${Math.round(seconds / 60)} minutes ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} hours ago`;
  return `on ${new Date(time).toLocaleDateString('en-GB')}`;
}

function restored({ meta, running: settings, data, curves }) {
  runId = meta.id;
  pendingData = null;
  if (settings.data === 'loaded' && data) {
    loadedData = { pixels: data.pixels, rows: data.rows, cols: data.cols, count: data.pixels.length / (data.rows * data.cols), name: data.name };
    $('load-status').textContent = `${plural(loadedData.count, 'image')} of ${loadedData.rows} rows x ${loadedData.cols} columns (restored).`;
  }
  adopt(settings);
  restoreDrawn();
  clearCharts();
  strip.length = 0;
  for (const [step, error] of curves.recon) charts.recon.push(step, [error]);
  for (const e of curves.evaluation) recordEvaluation(e);
  for (const a of curves.ais ?? []) recordAis(a);
  if (!$('notice').hidden && !/restored/.test($('notice-text').textContent)) showNotice('');
  setNote(`Restored: ${meta.title}. Paused; press Train to go on.`);
  sendQuietly('runs');
}

// ---- frames ------------------------------------------------------------------------------------

function receiveFrame(frame) {
  currentShape = frame.shape;
  if (frame.runId !== runId) {
    runId = frame.runId;
    showSavedRun();
  }
  if (frame.runId !== usePanelRun) {
    // Another model: the use panel's completion (if any) belonged to the old one.
    usePanelRun = frame.runId;
    usePanel.modelChanged(frame.shape);
  }
  if (frame.status === 'ready') {
    resetWarnings();
    clearCharts();
    strip.length = 0;
    lastChainSteps = 0;
  }
  if (frame.seq !== undefined) applied = frame.seq;
  const settled = applied >= sent || !running;
  if (settled && (frame.status === 'ready' || JSON.stringify(frame.running) !== JSON.stringify(running))) adopt(frame.running);
  setTraining(frame.training);
  setChainsPlaying(frame.chainsPlaying);
  if (frame.stepped) stepsPending = Math.max(0, stepsPending - 1);
  slowUpdates = frame.updateMs > 250 || (frame.stats?.wall_time_ms ?? 0) > 250;
  if (frame.stats) charts.recon.push(frame.stats.step, [frame.stats.reconstruction_error]);
  if (frame.evaluation) recordEvaluation(frame.evaluation);
  if (frame.ais) recordAis(frame.ais);
  if (frame.aisProgress !== null && frame.aisProgress !== undefined) {
    $('ais-progress').textContent = `Estimating log Z by AIS: ${Math.round(frame.aisProgress * 100)} %`;
  } else $('ais-progress').textContent = '';
  // The model keeps its frame's image shape: it may be drawn a frame after the samples.
  if (frame.learned) learned = { ...frame.learned, shape: frame.shape };
  if (frame.activation) activation = frame.activation;
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
    { label: 'AIS log-likelihood, training', colour: '#3a9a5b' },
    { label: 'AIS log-likelihood, held out', colour: '#9a4fb5' },
    { label: 'AIS held out, −3σ', colour: '#9a4fb5', width: 1, dash: [3, 3] },
    { label: 'AIS held out, +3σ', colour: '#9a4fb5', width: 1, dash: [3, 3] },
  ], { title: 'Log-likelihood per image (nats)', yLabel: 'nats' }),
  gap: new LineChart($('chart-gap'), [{ label: 'F(held out) − F(training)' }],
    { title: 'Free-energy gap (overfitting monitor)', yLabel: 'nats' }),
  freeEnergy: new LineChart($('chart-free-energy'), [
    { label: 'mean over chains', width: 2.5 },
    ...Array.from({ length: FREE_ENERGY_CHAINS }, (_, k) => ({ label: `chain ${k + 1}`, width: 1 })),
  ], { title: 'Free energy F(v) of the chains', xLabel: 'chain step', yLabel: 'F(v)', robust: true }),
  tv: new LineChart($('chart-tv'), [{ label: 'total-variation distance' }],
    { title: 'Distance between the chains\u2019 frequencies and the exact p(v)', xLabel: 'chain step', yLabel: 'TV' }),
};

function clearCharts() {
  for (const chart of Object.values(charts)) chart.clear();
  $('ais-note').textContent = '';
}

// ---- warnings a practitioner would want ---------------------------------------------------

/** The curves' recent history, for the warnings: reset with each new model. */
let watch = { best: {}, gaps: [] };
/** An exact log-likelihood this far below its best (in nats) means learning went wrong. */
const FALL_NATS = 2;
/** The free-energy gap warns above this many nats when it grew by GAP_GROWTH over the last GAP_POINTS points. */
const GAP_NATS = 8;
const GAP_GROWTH = 4;
const GAP_POINTS = 20;

function resetWarnings() {
  watch = { best: {}, gaps: [] };
  $('warning').hidden = true;
}

/** Says in plain words when a curve turns the wrong way while training goes on. */
function checkWarnings(e) {
  const warnings = [];
  for (const [key, what] of [['log_likelihood_held_out', 'held-out'], ['log_likelihood_train', 'training']]) {
    const value = e[key];
    if (typeof value !== 'number') continue;
    const best = watch.best[key];
    if (!best || value > best.value) watch.best[key] = { value, step: e.step };
    else if (value < best.value - FALL_NATS && e.step > best.step) {
      warnings.push(`The exact log-likelihood of the ${what} images has fallen from ${best.value.toFixed(1)} (step ${best.step}) `
        + `to ${value.toFixed(1)} nats while training goes on: the updates overshoot or the model is memorising. `
        + 'Try a lower learning rate, more weight decay, PCD or (on a model this small) the exact gradient, or stop at the best point (Save model keeps it).');
    }
  }
  if (typeof e.free_energy_gap === 'number') {
    watch.gaps.push(e.free_energy_gap);
    if (watch.gaps.length > GAP_POINTS) watch.gaps.shift();
    const grown = e.free_energy_gap - Math.min(...watch.gaps);
    if (e.free_energy_gap > GAP_NATS && grown > GAP_GROWTH) {
      warnings.push(`The free-energy gap keeps growing (${e.free_energy_gap.toFixed(1)} nats, up ${grown.toFixed(1)} lately): `
        + 'the model fits the training images better and better than the held-out ones, so it is memorising. '
        + 'Try more weight decay, fewer hidden units or fewer epochs.');
    }
  }
  if (warnings.length) {
    $('warning').textContent = warnings.join(' ');
    $('warning').hidden = false;
  }
}

/** An AIS point: log p(v) = -F(v) - log Z, with log Z's ±3σ carried to the held-out mean. */
function recordAis(a) {
  const heldOut = a.log_likelihood_held_out;
  const spread = (bound) => (heldOut === null || !Number.isFinite(bound) ? null : heldOut - (bound - a.log_partition));
  charts.likelihood.push(a.step, [null, null, null, a.log_likelihood_train, heldOut, spread(a.high), spread(a.low)]);
  $('ais-note').textContent = `AIS at step ${a.step.toLocaleString('en')}: log Z = ${a.log_partition.toFixed(2)} ± ${a.standard_error.toFixed(2)} `
    + `(standard error, ${a.runs} runs, ${a.temperatures.toLocaleString('en')} temperatures); `
    + `log-likelihood ${a.log_likelihood_train.toFixed(2)} training${heldOut === null ? '' : `, ${heldOut.toFixed(2)} held out`} nats. `
    + 'The dashed lines are ±3 standard errors; AIS tends to underestimate log Z slightly, so these curves lean high.';
  $('ais-note').dataset.standardError = String(a.standard_error);
}

function recordEvaluation(e) {
  charts.likelihood.push(e.step, [e.pseudo_log_likelihood, e.log_likelihood_train, e.log_likelihood_held_out]);
  checkWarnings(e);
  if (e.free_energy_gap !== undefined && e.free_energy_gap !== null) charts.gap.push(e.step, [e.free_energy_gap]);
  $('exact-note').textContent = e.exact_unavailable ? `Exact log-likelihood not shown: ${e.exact_unavailable}; AIS estimates it instead (below).` : '';
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
    while (strip.length > stripFrames()) strip.shift();
  }
  lastChainSteps = chainSteps;
  const small = frame.shape[0] * frame.shape[1] <= 16;
  $('small-model').hidden = !small;
  $('small-note').textContent = small ? (distribution ? '' : 'Computing the exact p(v)…')
    : 'The exact p(v) is shown for models with at most 16 visible units, such as 4 x 4 bars and stripes.';
  // While training, the counts restart with every update: the distance waits for a pause.
  $('chart-tv').hidden = frame.training;
  $('tv-note').textContent = frame.training
    ? 'The distance to the exact p(v) is measured while training is paused: each update changes the distribution the chains should match.' : '';
  if (!distribution) return;
  if (distribution.visited < lastVisited || distribution.visited === 0) charts.tv.clear();
  if (distribution.tv !== null && distribution.visited !== lastVisited) charts.tv.push(chainSteps, [distribution.tv]);
  lastVisited = distribution.visited;
}

// ---- drawing, once per display frame ----------------------------------------------------

/** The last update's stats, shown on while training between frames that carry none. */
let lastStats = null;

function describe(frame) {
  const perEpoch = frame.stepsPerEpoch || 1;
  const parts = [`step ${frame.stepsDone}`, `epoch ${(frame.stepsDone / perEpoch).toFixed(2)} of ${frame.epochs}`];
  if (frame.stats) lastStats = frame.stats;
  else if (frame.status !== 'training' && frame.status !== 'finishing') lastStats = null;
  const s = frame.stats ?? lastStats;
  if (s) {
    parts.push(`reconstruction error ${s.reconstruction_error.toFixed(4)}`);
    if (s.samples_per_second) {
      parts.push(`${Math.round(s.samples_per_second).toLocaleString('en')} samples/s${s.workers > 1 ? ` on ${s.workers} workers` : ''}`
        + `${engineMaths === 'fast' ? ' with fast maths' : ''}`);
    }
    parts.push(`update/weight ${s.update_ratio.toExponential(1)}`);
  }
  const rates = frame.exchangeRates?.filter(Number.isFinite);
  if (rates?.length) parts.push(`exchanges accepted ${rates.map((r) => `${Math.round(r * 100)} %`).join(', ')} (coldest pair first)`);
  const state = { ready: 'Ready.', training: 'Training.', paused: 'Paused.', finished: 'Run complete.',
    sampling: 'Training paused; chains sampling.', finishing: 'Pausing: finishing the current update…' }[frame.status] ?? '';
  return `${state} ${parts.join(' · ')}`;
}

/** A number for a progress bar: 0 unless finite (a bar given NaN stops the page's drawing). */
function fraction(x) {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function drawFrame(frame) {
  const [rows, cols] = frame.shape;
  const count = frame.samples.length / (rows * cols);
  drawImages($('samples'), frame.samples, count, rows, cols);
  if (strip.length) drawImages($('strip'), strip.flatMap((s) => Array.from(s)), strip.length, rows, cols, strip.length);
  if (frame.distribution) {
    const { exact, empirical, states } = frame.distribution;
    drawDistribution($('distribution'), exact, empirical, states, rows, cols);
    $('distribution').setAttribute('aria-label', `The ${exact.length} most probable states: exact p(v) from `
      + `${Math.max(...exact).toFixed(3)} down to ${Math.min(...exact).toFixed(3)}, the chains' frequencies from `
      + `${Math.max(...empirical).toFixed(3)} down to ${Math.min(...empirical).toFixed(3)}; the tallest bar is p = ${Math.max(...exact, ...empirical).toFixed(3)}`);
    $('distribution-scale').textContent = `Bar heights: probability, the tallest bar p = ${Math.max(...exact, ...empirical).toFixed(3)}; states ordered from the most probable, left to right.`;
  }
  $('samples').setAttribute('aria-label', `${count} samples of the model's Gibbs chains after ${frame.chainSteps} chain steps, as ${rows} by ${cols} pictures`);
  $('more-epochs').hidden = frame.status !== 'finished';
  const tv = frame.distribution?.tv;
  $('chain-status').textContent = `chain step ${frame.chainSteps}` + (typeof tv === 'number'
    ? ` · total-variation distance ${tv.toFixed(3)} over ${frame.distribution.visited.toLocaleString('en')} visited states` : '');
  $('status').textContent = describe(frame);
  const perEpoch = frame.stepsPerEpoch || 1;
  $('epoch-progress').value = fraction((frame.stepsDone % perEpoch) / perEpoch);
  $('run-progress').value = fraction(frame.stepsDone / (perEpoch * frame.epochs));
}

let drawProblem = null;

function draw() {
  try {
    // At most one of the two big pictures an animation frame, the samples first: the
    // filters and reconstructions take 30 to 40 ms on a slow machine, and the first
    // samples on screen waited for them. A model kept waiting is drawn on the next
    // frame even if new samples came meanwhile (they wait one frame then).
    const frameNow = latest && !(learned && learnedWaited);
    if (frameNow) {
      const frame = latest;
      latest = null;
      shown = frame;
      drawFrame(frame);
    }
    learnedWaited = Boolean(frameNow && learned);
    if (learned && !learnedWaited) {
      const model = learned;
      learned = null;
      drawLearned(model);
    }
    if (activation) {
      drawBars($('activations'), activation);
      const mean = activation.reduce((a, b) => a + b, 0) / Math.max(1, activation.length);
      $('activations').setAttribute('aria-label', `Mean activation of each of ${activation.length} hidden units, `
        + `from ${Math.min(...activation).toFixed(2)} to ${Math.max(...activation).toFixed(2)} (mean ${mean.toFixed(2)}) on a 0 to 1 scale`);
      activation = null;
    }
  } catch (error) {
    // Drawing must never stop for good: report once, keep the loop.
    if (!drawProblem) {
      drawProblem = error;
      showNotice(`A picture could not be drawn (${error.message}); the lab goes on.`);
    }
  } finally {
    requestAnimationFrame(draw);
  }
}

function drawLearned(model) {
  const [rows, cols] = model.shape;
  const m = rows * cols;
  drawFilters($('filters'), model.weights, m, model.nHidden, rows, cols);
  $('filters').setAttribute('aria-label', `The weights of ${Math.min(100, model.nHidden)} of ${model.nHidden} hidden units, each as a ${rows} by ${cols} picture`);
  drawSignedImage($('visible-bias'), model.visibleBias, rows, cols);
  drawBars($('hidden-bias'), model.hiddenBias, { signed: true });
  const largest = model.hiddenBias.reduce((a, c) => Math.max(a, Math.abs(c)), 0);
  const caption = `hidden bias c of each of ${model.nHidden} units, left to right: up positive, down negative; the tallest bar is |c| = ${largest.toFixed(2)}`;
  $('hidden-bias-caption').textContent = caption;
  $('hidden-bias').setAttribute('aria-label', caption);
  $('activations-axis').textContent = `hidden unit 1 … ${model.nHidden}, left to right`;
  if (model.pictures) {
    // Pictures on top, their reconstructions below.
    const count = model.pictures.length / m;
    const both = new Float32Array(2 * count * m);
    both.set(model.pictures, 0);
    both.set(model.reconstructions, count * m);
    drawImages($('reconstructions'), both, 2 * count, rows, cols, count);
  }
}

// ---- buttons, keys, files ----------------------------------------------------------------

// Commands are queued by the worker behind any model still being built, so the
// buttons work at once, even right after a setting changed.
function toggleTraining() {
  // With reduced motion the chains keep still frames while training (Chain step moves them).
  send(training ? 'pause' : 'train', training ? {} : { chains: !reducedMotion() });
  setTraining(!training);
}

function toggleChains() {
  send('chains', { play: !chainsPlaying });
  setChainsPlaying(!chainsPlaying);
}

function download(text, fileName) {
  downloadBlob(new Blob([text], { type: 'application/json' }), fileName);
}

function plural(count, word) {
  return `${count.toLocaleString('en')} ${word}${count === 1 ? '' : 's'}`;
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

$('train').addEventListener('click', toggleTraining);
// When updates are slow (over a quarter of a second), a Step pressed while the last one
// is still being worked on is ignored, so that presses cannot queue up seconds of work
// that Pause could not cancel. Quick updates queue as pressed.
let stepsPending = 0;
let slowUpdates = false;
$('step').addEventListener('click', () => {
  setTraining(false);
  if (slowUpdates && stepsPending > 0) return;
  stepsPending += 1;
  send('step');
});
$('reset').addEventListener('click', () => configure());
$('save').addEventListener('click', () => send('save'));
$('load-model').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  event.target.value = '';
  if (!file || !running) return;
  if (file.size > MAX_MODEL_FILE_BYTES) {
    showError(`${file.name} is ${megabytes(file.size)}; the lab reads model files up to ${megabytes(MAX_MODEL_FILE_BYTES)} (a 784 x 2000 model takes about 20 MB)`);
    return;
  }
  setTraining(false);
  const data = dataPayload(running);
  // A safetensors file (from PyTorch, say) travels as bytes, a JSON model file as text.
  const contents = /\.safetensors$/i.test(file.name) ? { bytes: await file.arrayBuffer() } : { text: await file.text() };
  send('load', { ...contents, settings: { ...running }, data: data === MISSING ? null : data });
});
$('chains-play').addEventListener('click', toggleChains);
$('pace').addEventListener('change', () => onSettingChange('pace'));
$('more-epochs').addEventListener('click', () => {
  values = { ...(running ?? values), epochs: Math.min(LIMITS.epochs.page.max, (running ?? values).epochs + 10) };
  sendSettings('view');
  toggleTraining();
});
$('copy-link').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    setNote('Link copied: it holds every setting and the seed, so opening it replays this run.');
  } catch {
    setNote(`Copy this link (it holds every setting and the seed): ${location.href}`);
  }
});
$('export-curves').addEventListener('click', () => {
  const lines = ['curve,step,value'];
  for (const chart of [charts.recon, charts.likelihood, charts.gap]) {
    const { labels, columns } = chart.table;
    columns.slice(1).forEach((values, k) => values.forEach((v, i) => {
      if (v !== null) lines.push(`"${labels[k + 1]}",${columns[0][i]},${v}`);
    }));
  }
  downloadBlob(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }), `rbm-curves-${runLabel().replace(/\W+/g, '-')}.csv`);
});
$('export-samples').addEventListener('click', () => exportCanvas($('samples'), 'samples'));
$('export-filters').addEventListener('click', () => exportCanvas($('filters'), 'filters'));
$('keep-run').addEventListener('click', () => {
  const label = runLabel();
  for (const chart of [charts.likelihood, charts.recon, charts.gap]) chart.keep(label);
  kept.push(label);
  $('kept-runs').textContent = `Kept on the charts, dashed: ${kept.join('; ')}.`;
  $('clear-kept').hidden = false;
});
$('clear-kept').addEventListener('click', () => {
  for (const chart of [charts.likelihood, charts.recon, charts.gap]) chart.clearKept();
  kept.length = 0;
  $('kept-runs').textContent = '';
  $('clear-kept').hidden = true;
});
$('samples').addEventListener('click', (event) => inspectSample(sampleAt(event)));
// From the keyboard: Enter looks into the next chain, the arrows step through them.
$('samples').addEventListener('keydown', (event) => {
  const step = { Enter: 1, ' ': 1, ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (!step) return;
  event.preventDefault();
  event.stopPropagation();
  const count = chainCount();
  inspectSample((((inspected < 0 && step < 0 ? 0 : inspected) + step) % count + count) % count);
});

const kept = [];

/** A short label of the running settings, for kept runs and file names. */
function runLabel() {
  const r = running ?? values;
  const algorithm = { cd: `CD-${r.k}`, pcd: `PCD-${r.k}`, gibbs: `Gibbs-${r.k}`, exact: 'exact',
    tempering: `PT-${r.k} (${r.temperatures} temperatures to β ${r.beta_min})` }[r.algorithm];
  const extras = [r.centring === 'on' ? 'centred' : '', r.decay_epochs > 0 ? `to ${r.final_learning_rate}` : '',
    r.sparsity_cost > 0 ? `sparse ${r.sparsity_target}` : ''].filter(Boolean).join(' ');
  return `${r.data} ${algorithm}${extras ? ` ${extras}` : ''} ${r.n_hidden} hidden lr ${r.learning_rate} seed ${r.seed} step ${shown?.stepsDone ?? ''}`.trim();
}

/** A canvas's pixels, enlarged without blurring, as a PNG file. */
function exportCanvas(canvas, name) {
  const scale = Math.max(1, Math.floor(1024 / Math.max(canvas.width, canvas.height)));
  const big = document.createElement('canvas');
  big.width = canvas.width * scale;
  big.height = canvas.height * scale;
  const context = big.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.drawImage(canvas, 0, 0, big.width, big.height);
  big.toBlob((blob) => downloadBlob(blob, `rbm-${name}-${runLabel().replace(/\W+/g, '-')}.png`), 'image/png');
}

function downloadBlob(blob, fileName) {
  const url = URL.createObjectURL(blob);
  Object.assign(document.createElement('a'), { href: url, download: fileName }).click();
  // Chromium holds the blob for a download it has started, but a download that starts
  // late on a busy machine must still find it: a minute, not a second.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Clicking a sample: its hidden units' p(h | v) and its reconstruction. */
function sampleAt(event) {
  const canvas = $('samples');
  const [rows, cols] = currentShape;
  const box = canvas.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * canvas.width;
  const y = ((event.clientY - box.top) / box.height) * canvas.height;
  const across = Math.max(1, Math.ceil(Math.sqrt(chainCount())));
  return Math.floor(y / (rows + 1)) * across + Math.floor(x / (cols + 1));
}

function chainCount() {
  const [rows, cols] = currentShape;
  return shown?.samples ? shown.samples.length / (rows * cols) : (running?.chains ?? 1);
}

/** The chain looked into last (the keyboard steps from it). */
let inspected = -1;

async function inspectSample(index) {
  const [rows, cols] = currentShape;
  inspected = index;
  try {
    const inside = await panelRequest('use')('inspect', { index });
    $('inspect').hidden = false;
    $('inspect-title').textContent = `Inside chain ${inside.index + 1}`;
    drawImages($('inspect-picture'), inside.picture, 1, rows, cols);
    drawImages($('inspect-reconstruction'), Float32Array.from(inside.reconstruction), 1, rows, cols);
    drawBars($('inspect-hidden'), Float32Array.from(inside.hidden));
    const on = inside.hidden.filter((p) => p > 0.5).length;
    $('inspect-hidden').setAttribute('aria-label', `p(h | v) of ${inside.hidden.length} hidden units; ${on} are more likely on than off`);
  } catch (error) {
    showError(error.message);
  }
}
$('chains-step').addEventListener('click', () => { setChainsPlaying(false); send('chainStep'); });
$('chains-restart').addEventListener('click', () => send('restartChains'));
$('saved-run-restore').addEventListener('click', () => {
  setTraining(false);
  setStatus('Restoring the saved run…');
  send('restore', { id: $('saved-run').dataset.id });
});
$('saved-run-forget').addEventListener('click', () => {
  send('forget', { id: $('saved-run').dataset.id });
  savedRuns = savedRuns.filter((run) => run.id !== $('saved-run').dataset.id);
  showSavedRun();
});
$('notice-close').addEventListener('click', () => showNotice(''));

document.addEventListener('keydown', (event) => {
  if (event.target.closest('input, select, textarea, .draw-grid, .pad') || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = { ' ': toggleTraining, s: () => $('step').click(), r: () => configure(), c: toggleChains, n: () => $('chains-step').click() };
  const action = actions[event.key.toLowerCase()];
  if (action && formBuilt) {
    event.preventDefault();
    action();
  }
});

/** A hash that names a part of the page (#critic-panel), not settings. */
function sectionOf(hash) {
  const id = decodeURIComponent(hash.replace(/^#/, ''));
  return /^[\w-]+$/.test(id) && document.getElementById(id)?.closest('section, header') ? document.getElementById(id) : null;
}

// Links to a panel scroll to it and leave the settings (and the model) alone.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href^="#"]');
  const section = link && sectionOf(link.getAttribute('href'));
  if (!section) return;
  event.preventDefault();
  section.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
});

window.addEventListener('hashchange', () => {
  if (!formBuilt) return;
  const section = sectionOf(location.hash);
  if (section) {
    // Typed or followed from elsewhere: scroll there, and put the settings back.
    section.scrollIntoView();
    saveHash();
    return;
  }
  const { values: fromHash, problems } = parseHash(location.hash);
  showNotice(problems.length ? `Some settings in the address were not used: ${problems.join('; ')}.` : '');
  values = fromHash;
  critic.apply(fromHash, { relearn: true });
  usePanel.apply(fromHash);
  showValues();
  restoreDrawn();
  configure();
});

// Built with the form, once the engine's ranges (the grid's side among them) are known.
let editor = null;
function buildEditor() {
  editor = new DrawEditor({
    grid: $('draw-grid'),
    list: $('draw-list'),
    sideInput: $('draw-side'),
    onChange: (count) => { $('draw-use').disabled = count === 0; },
  });
}
$('draw-side').addEventListener('change', () => editor.setSide(Number($('draw-side').value)));
$('draw-add').addEventListener('click', () => editor.add());
$('draw-clear').addEventListener('click', () => editor.clear());
$('draw-remove').addEventListener('click', () => editor.removeLast());
$('draw-use').addEventListener('click', () => {
  values = withDefaults({ ...DEFAULTS.drawn, data: 'drawn', seed: values.seed, maths: values.maths,
    patterns: encodePatterns(editor.side, editor.patterns) });
  showValues();
  configure();
});

function restoreDrawn() {
  const drawn = decodePatterns(values?.patterns);
  if (!drawn.error && editor) editor.load(drawn.side, drawn.patterns);
}

function useLoadedData(data) {
  loadedData = { pixels: data.pixels, rows: data.rows, cols: data.cols, count: data.count, name: data.name };
  $('load-status').textContent = `${plural(data.count, 'image')} of ${data.rows} rows x ${data.cols} columns loaded.`;
  values = withDefaults({ ...DEFAULTS.loaded, data: 'loaded', seed: values.seed, maths: values.maths });
  showValues();
  configure();
}

$('load-file').addEventListener('change', async (event) => {
  const files = [...event.target.files];
  event.target.value = '';
  try {
    if (files.length === 0) throw new Error('choose a file');
    if (files.every((f) => f.type === 'image/png' || f.name.toLowerCase().endsWith('.png'))) {
      useLoadedData(await parsePngs(files));
      return;
    }
    if (files.length > 1) throw new Error('choose one CSV file, or one or more PNG images');
    const [file] = files;
    if (file.size > MAX_CSV_BYTES) throw new Error(`${file.name} is ${megabytes(file.size)}; CSV files may be up to ${megabytes(MAX_CSV_BYTES)}`);
    const read = (id) => ($(id).value.trim() === '' ? NaN : Number($(id).value));
    const rows = read('load-rows');
    const cols = read('load-cols');
    for (const [what, n] of [['rows', rows], ['columns', cols]]) {
      const problem = rangeProblem('image_side', n);
      if (problem) throw new Error(`image ${what}: ${problem.replace(/^image_side/, what)}`);
    }
    $('load-status').textContent = `Reading ${file.name}…`;
    send('parseCsv', { text: await file.text(), rows, cols, name: file.name });
  } catch (error) {
    $('load-status').textContent = `Could not use the file: ${error.message}`;
  }
});

// ---- the critic panel ------------------------------------------------------------------------

// The panels ask the worker through numbered requests, answered by id.
const panelRequests = new Map();
/** The panels' requests to a worker that is gone end with an error marked `engineReplaced`. */
function rejectPanelRequests(message) {
  for (const { reject } of panelRequests.values()) reject(Object.assign(new Error(message), { engineReplaced: true }));
  panelRequests.clear();
}
let panelRequestId = 0;
function panelRequest(command) {
  return (action, fields = {}) => {
    panelRequestId += 1;
    const id = panelRequestId;
    return new Promise((resolve, reject) => {
      panelRequests.set(id, { resolve, reject });
      sendQuietly(command, { action, id, ...fields });
    });
  };
}

function answerPanel({ id, result, error }) {
  const pending = panelRequests.get(id);
  if (!pending) return;
  panelRequests.delete(id);
  if (error) pending.reject(new Error(error));
  else pending.resolve(result);
}

const critic = new CriticPanel({ request: panelRequest('critic'), onChange: saveHash });
const usePanel = new UsePanel({ request: panelRequest('use'), onChange: saveHash });

// A hook for the page tests of crash recovery (and the curious): makes the worker
// panic, hang or exit, as a bug or an out-of-memory error would.
window.rbmLab = { injectFault: (kind) => engine.send('injectFault', { kind }), engine };

requestAnimationFrame(draw);
