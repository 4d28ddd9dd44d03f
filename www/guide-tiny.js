// Steps 3 to 7 of the guide: one tiny RBM (4 visible, 2 hidden units) shared by five
// figures. Moving a slider in step 3, or taking a gradient step in step 5, changes the
// model every figure shows. The numbers all come from the worker (guidework.js):
// this module only lays them out.
import { request, latest } from './guide.js';
import { LineChart } from './charts.js';

const M = 4;
const N = 2;
const RANGE = 4;
/** Two valleys: h1 switches on v1 and v2, h2 switches on v3 and v4. */
const START = {
  nVisible: M, nHidden: N,
  weights: [2, -1, 2, -1, -1, 2, -1, 2],
  visibleBias: [-1, -1, -1, -1],
  hiddenBias: [-1, -1],
};

const model = {
  params: structuredClone(START),
  listeners: new Set(),
  set(params, from) {
    this.params = params;
    for (const listen of this.listeners) listen(from);
  },
};

// ---- small DOM helpers -------------------------------------------------------------------

export function el(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') e.className = value;
    else if (key === 'text') e.textContent = value;
    else if (key === 'html') e.innerHTML = value;
    else e.setAttribute(key, value);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attributes = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) e.setAttribute(key, value);
  return e;
}

export const fixed = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
export const bits = (state, units) => Array.from({ length: units }, (_, i) => (state >> i) & 1);
const bitString = (state, units) => bits(state, units).join('');

/** A slider with its label and value; `onInput(value)` on every move. */
export function slider({ id, label, min, max, step, value, onInput }) {
  const input = el('input', { type: 'range', id, min, max, step, value });
  const output = el('output', { for: id, text: String(value) });
  input.addEventListener('input', () => {
    output.textContent = input.value;
    onInput(Number(input.value));
  });
  const row = el('label', { class: 'slider', for: id }, el('span', { class: 'slider-name', html: label }), input, output);
  return { row, input, set(v) { input.value = String(v); output.textContent = String(Math.round(v * 100) / 100); } };
}

/**
 * Bars with labels under them: `groups` of values (one colour each) per slot. Heights
 * are scaled to `top` (the largest value when not given); the caption says the scale.
 */
export function drawBars(container, { labels, groups, names, top, digits = 3 }) {
  const highest = top ?? Math.max(1e-12, ...groups.flat());
  container.replaceChildren(...labels.map((label, k) => el('div', { class: 'bar-slot' },
    el('div', { class: 'bar-pair' }, ...groups.map((values, g) => el('div', {
      class: `bar bar-${g}`,
      title: `${names[g]} ${label}: ${fixed(values[k], digits)}`,
      'data-value': String(values[k]),
    }))),
    el('div', { class: 'bar-tick', text: label }))));
  // Heights are set through the CSS custom property (no inline style is allowed).
  container.querySelectorAll('.bar').forEach((bar) => {
    bar.style.setProperty('--h', `${Math.max(0, Math.min(1, Number(bar.dataset.value) / highest)) * 100}%`);
  });
  // The scale, in words under the bars (bars have no axis of their own).
  const scale = container.parentElement?.nextElementSibling;
  if (scale?.classList.contains('bar-scale')) {
    scale.textContent = `Bar heights from 0 to ${fixed(highest, 3)}; ${names.map((name, g) => `${['blue', 'orange'][g]}: ${name}`).join(', ')}.`;
  }
}

/** The bipartite graph: hidden units on top, visible below, an edge per weight. */
function drawGraph(svgElement, params, state = null) {
  const width = 320;
  const height = 190;
  const vx = (i) => 40 + (i * (width - 80)) / (M - 1);
  const hx = (j) => width / 2 + (j - (N - 1) / 2) * 140;
  const [vy, hy] = [150, 40];
  svgElement.replaceChildren();
  svgElement.setAttribute('viewBox', `0 0 ${width} ${height}`);
  for (let i = 0; i < M; i += 1) {
    for (let j = 0; j < N; j += 1) {
      const w = params.weights[i * N + j];
      svgElement.append(svg('line', {
        x1: vx(i), y1: vy, x2: hx(j), y2: hy,
        class: `edge ${w >= 0 ? 'positive' : 'negative'}`,
        'stroke-width': String(0.5 + 2 * Math.min(RANGE, Math.abs(w))),
      }));
    }
  }
  const node = (x, y, name, on, prob, highlight) => {
    const group = svg('g', { class: `node${on ? ' on' : ''}${highlight ? ' updated' : ''}` });
    group.append(svg('circle', { cx: x, cy: y, r: 17 }));
    const text = svg('text', { x, y: y + 5, 'text-anchor': 'middle' });
    text.textContent = name;
    group.append(text);
    if (prob !== undefined) {
      const p = svg('text', { x, y: y + (y > height / 2 ? 34 : -24), 'text-anchor': 'middle', class: 'prob' });
      p.textContent = `p=${fixed(prob, 2)}`;
      group.append(p);
    }
    svgElement.append(group);
  };
  for (let j = 0; j < N; j += 1) {
    node(hx(j), hy, `h${j + 1}`, state ? state.hidden[j] === 1 : false, state?.hiddenProb[j], state?.updated === 'hidden');
  }
  for (let i = 0; i < M; i += 1) {
    node(vx(i), vy, `v${i + 1}`, state ? state.visible[i] === 1 : false, state?.visibleProb[i], state?.updated === 'visible');
  }
}

const sub = (name, ...indices) => `${name}<sub>${indices.join('')}</sub>`;

// ---- step 3: the model, its sliders, the joint table and p(v) -----------------------------

function graphFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const graph = svg('svg', { class: 'graph', role: 'img', 'aria-label': 'The tiny RBM as a bipartite graph' });
  const sliders = [];
  const paramSliders = el('div', { class: 'sliders' });
  // Only the slider that moved changes its parameter: the others may hold values a
  // gradient step put between (or beyond) the slider's steps.
  const setOne = (key, index, value) => {
    const p = structuredClone(model.params);
    p[key][index] = value;
    model.set(p, 'sliders');
  };
  const add = (key, index, label) => {
    const s = slider({ id: `param-${key}-${index}`, label, min: -2 * RANGE, max: 2 * RANGE, step: 0.1, value: model.params[key][index], onInput: (v) => setOne(key, index, v) });
    sliders.push({ ...s, key, index });
    paramSliders.append(s.row);
  };
  for (let i = 0; i < M; i += 1) for (let j = 0; j < N; j += 1) add('weights', i * N + j, sub('W', i + 1, j + 1));
  for (let i = 0; i < M; i += 1) add('visibleBias', i, sub('b', i + 1));
  for (let j = 0; j < N; j += 1) add('hiddenBias', j, sub('c', j + 1));
  const reset = el('button', { type: 'button', text: 'Reset the model' });
  reset.addEventListener('click', () => model.set(structuredClone(START), 'reset'));
  const summary = el('p', { class: 'figure-note', id: 'joint-summary' });
  const bars = el('div', { class: 'bars', id: 'marginal-bars' });
  const body = el('tbody');
  const table = el('table', { class: 'joint', id: 'joint-table' },
    el('caption', { text: 'Every joint state (v, h), most probable first' }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'v₁v₂v₃v₄' }), el('th', { scope: 'col', text: 'h₁h₂' }),
      el('th', { scope: 'col', text: 'E(v, h)' }), el('th', { scope: 'col', text: 'p(v, h)' }))),
    body);
  root.replaceChildren(el('div', { class: 'fig-columns' },
    el('div', {}, graph, el('p', { class: 'figure-note', text: 'Edges: orange positive weights, blue negative, thicker is stronger.' }), paramSliders, reset),
    el('div', {},
      el('h3', { text: 'p(v), the marginal of each visible state v₁v₂v₃v₄' }), el('div', { class: 'bars-scroll' }, bars),
      el('p', { class: 'figure-note bar-scale' }),
      summary, el('div', { class: 'table-scroll', tabindex: '0', 'aria-label': 'The joint table' }, table))),
  problem);

  const refresh = latest(async () => {
    const params = model.params;
    const t = await request('guide', 'joint', { params });
    drawGraph(graph, params);
    const total = t.probability.reduce((a, b) => a + b, 0);
    summary.textContent = `Σ p(v, h) over all 64 rows = ${total.toFixed(6)} · log Z = ${fixed(t.logPartition, 4)}`;
    summary.dataset.total = String(total);
    summary.dataset.logPartition = String(t.logPartition);
    drawBars(bars, { labels: t.visibleMarginal.map((_, v) => bitString(v, M)), groups: [t.visibleMarginal], names: ['p(v)'] });
    bars.dataset.marginal = JSON.stringify(t.visibleMarginal);
    const rows = t.probability.map((p, k) => ({ p, e: t.energy[k], v: k >> N, h: k & ((1 << N) - 1) })).sort((a, b) => b.p - a.p);
    body.replaceChildren(...rows.map((r) => el('tr', { 'data-v': String(r.v), 'data-h': String(r.h), 'data-p': String(r.p) },
      el('td', { text: bitString(r.v, M) }), el('td', { text: bitString(r.h, N) }),
      el('td', { text: fixed(r.e, 2) }), el('td', { text: fixed(r.p, 4) }))));
  }, problem);
  model.listeners.add((from) => {
    if (from !== 'sliders') for (const s of sliders) s.set(model.params[s.key][s.index]);
    refresh();
  });
  // The sliders show the parameters to two decimals; the model keeps their full values.
  refresh();
  return { ready: Promise.resolve() };
}

// ---- step 4: p(h | v) one sigmoid per hidden unit ------------------------------------------

function conditionalsFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const visible = [1, 1, 0, 0];
  const toggles = visible.map((on, i) => {
    const b = el('button', { type: 'button', class: 'unit-toggle', 'aria-pressed': String(on === 1), id: `cond-v${i + 1}`, html: sub('v', i + 1) });
    b.addEventListener('click', () => {
      visible[i] = 1 - visible[i];
      b.setAttribute('aria-pressed', String(visible[i] === 1));
      refresh();
    });
    return b;
  });
  const units = el('div', { class: 'fig-columns units' });
  root.replaceChildren(el('p', { class: 'figure-note', text: 'Pick the visible state (each button is one visible unit, pressed = 1):' }),
    el('div', { class: 'buttons' }, ...toggles), units, problem);
  const xs = Array.from({ length: 81 }, (_, k) => -10 + k / 4);
  let curve = null;

  const refresh = latest(async () => {
    curve ??= await request('guide', 'sigmoid', { xs });
    const params = model.params;
    const r = await request('guide', 'inputs', { params, visible });
    units.replaceChildren(...r.input.map((x, j) => {
      const plot = svg('svg', { class: 'sigmoid', viewBox: '0 0 200 110', role: 'img',
        'aria-label': `Sigmoid of hidden unit ${j + 1}: input ${fixed(x, 2)}, probability ${fixed(r.probability[j], 3)}` });
      const px = (v) => 10 + ((Math.max(-10, Math.min(10, v)) + 10) / 20) * 180;
      const py = (p) => 95 - p * 85;
      plot.append(svg('line', { x1: 10, y1: py(0), x2: 190, y2: py(0), class: 'axis' }));
      plot.append(svg('line', { x1: px(0), y1: py(0), x2: px(0), y2: py(1), class: 'axis' }));
      plot.append(svg('polyline', { points: xs.map((v, k) => `${px(v)},${py(curve[k])}`).join(' '), class: 'curve' }));
      plot.append(svg('circle', { cx: px(x), cy: py(r.probability[j]), r: 5, class: 'dot' }));
      for (const [p, label] of [[0, '0'], [1, '1']]) {
        const t = svg('text', { x: 4, y: py(p) + 3, class: 'tick' });
        t.textContent = label;
        plot.append(t);
      }
      for (const [v, label] of [[-10, '−10'], [0, '0'], [10, '10']]) {
        const t = svg('text', { x: px(v), y: 108, 'text-anchor': 'middle', class: 'tick' });
        t.textContent = label;
        plot.append(t);
      }
      const terms = visible.map((v, i) => `${v}×${fixed(params.weights[i * N + j], 1)}`).join(' + ');
      return el('div', { class: 'unit', 'data-unit': String(j + 1) }, el('h3', { html: `Hidden unit ${sub('h', j + 1)}` }), plot,
        el('p', { class: 'figure-note', html: `input ${sub('c', j + 1)} + Σ<sub>i</sub> ${sub('v', 'i')}${sub('W', 'i', j + 1)} = ${fixed(params.hiddenBias[j], 1)} + (${terms}) = <strong class="input">${fixed(x, 3)}</strong>` }),
        el('p', { class: 'figure-note', html: `p(${sub('h', j + 1)} = 1 | v) = σ(${fixed(x, 3)}) = <strong class="sigmoid-p">${fixed(r.probability[j], 4)}</strong>` }),
        el('p', { class: 'figure-note', html: `from the joint table: Σ<sub>h</sub> p(v, h) ${sub('h', j + 1)} / p(v) = <strong class="table-p">${fixed(r.fromTable[j], 4)}</strong>` }));
    }));
  }, problem);
  model.listeners.add(refresh);
  refresh();
  return { ready: Promise.resolve() };
}

// ---- step 5: the gradient's two terms and exact gradient steps -----------------------------

function heatMap(title, values, id, highest) {
  const rows = [];
  for (let i = 0; i < M; i += 1) {
    rows.push(el('tr', {}, el('th', { scope: 'row', html: sub('v', i + 1) }), ...Array.from({ length: N }, (_, j) => {
      const value = values[i * N + j];
      const cell = el('td', { class: value >= 0 ? 'positive' : 'negative', text: fixed(value, 3), 'data-value': String(value) });
      cell.style.setProperty('--a', String(Math.abs(value) / highest));
      return cell;
    })));
  }
  return el('table', { class: 'heat', id },
    el('caption', { html: title }),
    el('thead', {}, el('tr', {}, el('td'), ...Array.from({ length: N }, (_, j) => el('th', { scope: 'col', html: sub('h', j + 1) })))),
    el('tbody', {}, ...rows));
}

function gradientFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const patterns = [[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]];
  const list = el('div', { class: 'patterns', id: 'gradient-patterns' });
  const maps = el('div', { class: 'fig-columns heat-maps' });
  const ll = el('p', { class: 'figure-note', id: 'gradient-ll' });
  const chartBox = el('div', { class: 'chart', id: 'chart-gradient-ll', 'data-points': '0' });
  let rate = 0.5;
  const rateSlider = slider({ id: 'gradient-rate', label: 'learning rate ε', min: 0.05, max: 2, step: 0.05, value: rate, onInput: (v) => { rate = v; } });
  const stepButton = el('button', { type: 'button', id: 'gradient-step', text: 'Step' });
  const tenButton = el('button', { type: 'button', id: 'gradient-ten', text: '10 steps' });
  const addButton = el('button', { type: 'button', id: 'gradient-add', text: 'Add pattern' });
  root.replaceChildren(
    el('div', { class: 'fig-columns' },
      el('div', {}, el('h3', { text: 'The data: edit the patterns' }), list, el('div', { class: 'buttons' }, addButton)),
      el('div', {}, rateSlider.row, el('div', { class: 'buttons' }, stepButton, tenButton), ll, chartBox)),
    maps, problem);
  const chart = new LineChart(chartBox, [{ label: 'exact mean log-likelihood' }], { title: 'Exact log-likelihood of the patterns (nats)', xLabel: 'gradient steps', yLabel: 'nats', height: 200 });
  let steps = 0;

  const showList = () => {
    list.replaceChildren(...patterns.map((pattern, r) => el('div', { class: 'pattern' },
      ...pattern.map((on, i) => {
        const b = el('button', { type: 'button', class: 'unit-toggle', 'aria-pressed': String(on === 1), 'aria-label': `pattern ${r + 1} pixel ${i + 1}`, text: String(on) });
        b.addEventListener('click', () => {
          pattern[i] = 1 - pattern[i];
          dataChanged();
        });
        return b;
      }),
      (() => {
        const remove = el('button', { type: 'button', class: 'remove', 'aria-label': `Remove pattern ${r + 1}`, text: 'Remove' });
        remove.disabled = patterns.length === 1;
        remove.addEventListener('click', () => {
          patterns.splice(r, 1);
          dataChanged();
        });
        return remove;
      })())));
  };
  const showTerms = (terms) => {
    // One shade scale for all three maps, so that their sizes compare.
    const highest = Math.max(1e-9, ...[...terms.data, ...terms.model, ...terms.difference].map(Math.abs));
    maps.replaceChildren(
      heatMap('data term ⟨v<sub>i</sub> h<sub>j</sub>⟩<sub>data</sub>', terms.data, 'heat-data', highest),
      heatMap('model term ⟨v<sub>i</sub> h<sub>j</sub>⟩<sub>model</sub>', terms.model, 'heat-model', highest),
      heatMap('their difference: the gradient', terms.difference, 'heat-difference', highest),
      el('p', { class: 'figure-note', text: `Orange positive, blue negative; the shade grows with the size, on one scale for all three maps (full shade: ${fixed(highest, 3)}).` }));
    ll.textContent = `Exact mean log-likelihood of the ${patterns.length} patterns: ${fixed(terms.logLikelihood, 4)} nats after ${steps} steps`;
    ll.dataset.value = String(terms.logLikelihood);
  };
  const refresh = latest(async () => {
    const terms = await request('guide', 'gradient', { params: model.params, patterns });
    showTerms(terms);
    if (chart.length === 0) chart.push(steps, [terms.logLikelihood]);
  }, problem);
  const dataChanged = () => {
    showList();
    steps = 0;
    chart.clear();
    refresh();
  };
  const takeSteps = async (count) => {
    let params = model.params;
    let result = null;
    for (let k = 0; k < count; k += 1) {
      result = await request('guide', 'gradientStep', { params, patterns, rate });
      params = result.params;
      steps += 1;
      chart.push(steps, [result.logLikelihoodAfter]);
    }
    model.set(params, 'gradient');
  };
  let stepsWanted = 1;
  const step = latest(() => takeSteps(stepsWanted), problem);
  stepButton.addEventListener('click', () => { stepsWanted = 1; step(); });
  tenButton.addEventListener('click', () => { stepsWanted = 10; step(); });
  addButton.addEventListener('click', () => {
    patterns.push([0, 0, 0, 0]);
    dataChanged();
  });
  model.listeners.add((from) => {
    // Slider moves change the model the curve belongs to: a new curve from here.
    if (from !== 'gradient') {
      steps = 0;
      chart.clear();
    }
    refresh();
  });
  showList();
  refresh();
  return { ready: Promise.resolve() };
}

// ---- step 6: one chain, its visits, its distance to p(v), its autocorrelation ---------------

const LAGS = 20;

function chainFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  let scale = 1;
  let running = false;
  let seed = 1;
  const play = el('button', { type: 'button', id: 'walk-play', 'aria-pressed': 'false', text: 'Run the chain' });
  const restart = el('button', { type: 'button', id: 'walk-restart', text: 'Restart' });
  const scaleSlider = slider({ id: 'walk-scale', label: 'weights × (larger: deeper valleys)', min: 0.5, max: 4, step: 0.5, value: scale, onInput: (v) => { scale = v; restartChain(); } });
  const status = el('p', { class: 'figure-note', id: 'walk-status', 'aria-live': 'off' });
  const histogram = el('div', { class: 'bars', id: 'walk-bars' });
  const acf = el('div', { class: 'bars acf', id: 'walk-acf' });
  const tvBox = el('div', { class: 'chart', id: 'chart-walk-tv', 'data-points': '0' });
  root.replaceChildren(
    el('div', { class: 'buttons' }, play, restart), scaleSlider.row, status,
    el('div', { class: 'fig-columns' },
      el('div', {}, el('h3', { text: 'Visits (orange) against the exact p(v) (blue)' }), el('div', { class: 'bars-scroll' }, histogram),
        el('p', { class: 'figure-note bar-scale' })),
      el('div', {}, tvBox)),
    el('h3', { text: 'Autocorrelation: how alike the state is to the state a lag of steps earlier' }),
    el('div', { class: 'bars-scroll' }, acf), el('p', { class: 'figure-note', text: 'Bars for lags 0 to 20, on a scale from 0 (forgotten) to 1 (the same state): each pixel’s autocorrelation along the chain, averaged over the pixels (a negative average is drawn as 0). Scaling the weights makes a new model, so the blue exact p(v) changes with it.' }),
    problem);
  const tv = new LineChart(tvBox, [{ label: 'total-variation distance' }], { title: 'Distance to the exact p(v)', xLabel: 'chain steps (log scale)', yLabel: 'TV', height: 200, logX: true });

  const show = (s) => {
    drawBars(histogram, { labels: s.exact.map((_, v) => bitString(v, M)), groups: [s.exact, s.frequencies], names: ['exact p(v)', 'visit frequency'] });
    status.textContent = `${s.steps.toLocaleString('en')} steps · total-variation distance ${fixed(s.totalVariation, 3)} · weights × ${scale}`;
    status.dataset.steps = String(s.steps);
    status.dataset.tv = String(s.totalVariation);
    if (s.steps > 0) tv.push(s.steps, [s.totalVariation]);
    if (s.autocorrelation?.length) {
      drawBars(acf, { labels: s.autocorrelation.map((_, lag) => String(lag)), groups: [s.autocorrelation.map((a) => Math.max(0, a))], names: ['autocorrelation'], top: 1 });
      acf.dataset.values = JSON.stringify(s.autocorrelation);
    }
  };
  const restartChain = latest(async () => {
    seed += 1;
    tv.clear();
    acf.replaceChildren();
    delete acf.dataset.values;
    show(await request('guide', 'chainNew', { name: 'walk', params: model.params, scale, start: 0, seed }));
  }, problem);
  // Steps per frame grow with the run, so the log-scaled distance chart covers decades.
  const advance = latest(async () => {
    const done = Number(status.dataset.steps ?? 0);
    const steps = Math.max(5, Math.min(2000, Math.round(done / 20)));
    show(await request('guide', 'chainRun', { name: 'walk', steps, lags: LAGS }));
  }, problem);
  const loop = () => {
    if (!running) return;
    advance();
    if (Number(status.dataset.steps) >= 200000) setRunning(false);
    requestAnimationFrame(loop);
  };
  const setRunning = (on) => {
    running = on;
    play.setAttribute('aria-pressed', String(on));
    play.textContent = on ? 'Pause' : 'Run the chain';
    if (on) requestAnimationFrame(loop);
  };
  play.addEventListener('click', () => setRunning(!running));
  restart.addEventListener('click', restartChain);
  model.listeners.add(restartChain);
  restartChain();
  return { ready: Promise.resolve() };
}

// ---- step 7: block Gibbs, animated on the graph ---------------------------------------------

function gibbsFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const graph = svg('svg', { class: 'graph gibbs', role: 'img', 'aria-label': 'Block Gibbs sampling on the tiny RBM' });
  const next = el('button', { type: 'button', id: 'gibbs-next', text: 'Sample the hidden layer' });
  const play = el('button', { type: 'button', id: 'gibbs-play', 'aria-pressed': 'false', text: 'Play' });
  const explain = el('p', { class: 'figure-note', id: 'gibbs-explain', role: 'status' });
  root.replaceChildren(el('div', { class: 'buttons' }, next, play), graph, explain, problem);
  let seed = 100;
  let timer = null;

  const show = (s, updated) => {
    // Probabilities beside the layer just drawn only: the other layer's are stale.
    drawGraph(graph, model.params, {
      ...s, updated,
      hiddenProb: updated === 'hidden' ? s.hiddenProb : [],
      visibleProb: updated === 'visible' ? s.visibleProb : [],
    });
    const on = (values, name) => values.map((x, i) => (x ? sub(name, i + 1) : null)).filter(Boolean).join(', ') || 'none';
    const state = s.visible.join('');
    explain.innerHTML = (updated === 'hidden'
      ? `Every hidden unit was drawn at once from p(${sub('h', 'j')} = 1 | v) (the numbers by the hidden units); on: ${on(s.hidden, 'h')}. Next: every visible unit at once from p(${sub('v', 'i')} = 1 | h).`
      : updated === 'visible'
        ? `Every visible unit was drawn at once from p(${sub('v', 'i')} = 1 | h) (the numbers by the visible units); on: ${on(s.visible, 'v')}. Full steps so far: ${s.steps}. Next: the hidden layer again.`
        : `The chain starts from visible state ${state}; on: ${on(s.visible, 'v')}. Next: every hidden unit at once from p(${sub('h', 'j')} = 1 | v).`)
      + ' A filled circle is a unit in state 1, an empty one a unit in state 0.';
    explain.dataset.steps = String(s.steps);
    explain.dataset.updated = updated ?? '';
    next.textContent = s.hiddenNext ? 'Sample the hidden layer' : 'Sample the visible layer';
  };
  const start = latest(async () => {
    seed += 1;
    show(await request('guide', 'chainNew', { name: 'gibbs', params: model.params, scale: 1, start: seed % (1 << M), seed }), null);
  }, problem);
  const half = latest(async () => {
    const before = next.textContent.includes('hidden') ? 'hidden' : 'visible';
    show(await request('guide', 'chainHalfStep', { name: 'gibbs' }), before);
  }, problem);
  next.addEventListener('click', half);
  const reduced = matchMedia('(prefers-reduced-motion: reduce)').matches;
  play.addEventListener('click', () => {
    const on = timer === null;
    play.setAttribute('aria-pressed', String(on));
    play.textContent = on ? 'Pause' : 'Play';
    if (on) timer = setInterval(half, reduced ? 1500 : 700);
    else {
      clearInterval(timer);
      timer = null;
    }
  });
  model.listeners.add(start);
  start();
  return { ready: Promise.resolve() };
}

export function tinyFigures({ graph, conditionals, gradient, chain, gibbs }) {
  return [graphFigure(graph), conditionalsFigure(conditionals), gradientFigure(gradient), chainFigure(chain), gibbsFigure(gibbs)];
}
