// Steps 1, 2 and 8 of the guide: the critic's chain rule, a 3 x 3 picture model filling
// in clamped pixels exactly, and the race of five ways to train on 3 x 3 bars and
// stripes. The worker computes every number (guidework.js and the critic's requests).
import { request, latest } from './guide.js';
import { el, fixed } from './guide-tiny.js';
import { LineChart } from './charts.js';

const SIDE = 3;
/** The critic panel's smoothing and seed, so the guide's critic is the lab's. */
const SMOOTHING_K = 0.01;
const CRITIC_SEED = 1;
const TEMPERATURE = 0.5;

// ---- step 1: a sampled review, each word with its probability -----------------------------

export function criticFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const which = el('select', { id: 'critic-which', 'aria-label': 'Which critic writes' });
  const sample = el('button', { type: 'button', id: 'critic-sample', text: 'Sample a review' });
  const words = el('div', { class: 'words', id: 'critic-words' });
  const product = el('p', { class: 'figure-note', id: 'critic-product' });
  const verdict = el('p', { class: 'figure-note', id: 'critic-verdict' });
  root.replaceChildren(el('div', { class: 'buttons' }, el('label', { class: 'slider' }, el('span', { text: 'Critic' }), which), sample),
    words, product, verdict, problem);
  let names = [];

  const ready = (async () => {
    const corpus = await request('critic', 'corpus');
    names = corpus.map((c) => c.name);
    which.replaceChildren(...names.map((name, k) => el('option', { value: String(k), text: name })));
    await request('critic', 'train', {
      names, reviews: corpus.map((c) => c.training.join('\n')), k: SMOOTHING_K, seed: CRITIC_SEED,
      heldOut: corpus.map((c) => c.held_out.join('\n')),
    });
  })();

  const draw = latest(async () => {
    await ready;
    const critic = Number(which.value);
    words.dataset.samples = String(Number(words.dataset.samples ?? 0) + 1);
    const review = await request('critic', 'sample', { which: critic, temperature: TEMPERATURE });
    const text = review.join(' ');
    const scored = await request('critic', 'attribute', { text });
    const own = scored.scores[critic];
    // The five words' factors; the last row of the score is the end of the review.
    const factors = own.words.slice(0, -1);
    const context = (t) => [t >= 2 ? review[t - 2] : '·', t >= 1 ? review[t - 1] : '·'].join(', ');
    words.replaceChildren(...factors.map((w, t) => el('div', { class: 'word', 'data-p': String(Math.exp(w.log_probability)) },
      el('span', { class: 'word-text', text: w.word }),
      el('span', { class: 'word-p', html: `p(w<sub>${t + 1}</sub> | ${context(t)}) = ${fixed(Math.exp(w.log_probability), 4)}` }))));
    const logFive = factors.reduce((sum, w) => sum + w.log_probability, 0);
    const end = own.words.at(-1);
    product.innerHTML = `Their product, p(w<sub>1</sub> … w<sub>5</sub>) = ${Math.exp(logFive).toExponential(3)} (log ${fixed(logFive, 3)} nats). `
      + `The lab's score also multiplies in the chance that the review ends there, p(end | ${review.slice(-2).join(', ')}) = ${fixed(Math.exp(end.log_probability), 4)}.`;
    product.dataset.logFive = String(logFive);
    product.dataset.logTotal = String(own.log_probability);
    product.dataset.factors = JSON.stringify(factors.map((w) => w.log_probability));
    product.dataset.drawn = words.dataset.samples;
    const [a, b] = scored.scores.map((s) => s.log_probability);
    verdict.innerHTML = `Who wrote it? ${names[0]}: log p = ${fixed(a, 2)}; ${names[1]}: log p = ${fixed(b, 2)}: `
      + `${a > b ? names[0] : names[1]} is e<sup>${fixed(Math.abs(a - b), 2)}</sup> times more likely to have written it. `
      + `(Reviews are sampled at temperature ${TEMPERATURE}, as in the lab's critic panel, which favours likely words; the probabilities shown are the model's own.)`;
  }, problem);
  sample.addEventListener('click', draw);
  which.addEventListener('change', draw);
  return { ready: ready.then(draw) };
}

// ---- step 2: clamp pixels, the rest filled in exactly --------------------------------------

export function pictureFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const clamp = Array(SIDE * SIDE).fill(-1);
  const grid = el('div', { class: 'picture-grid', id: 'picture-grid', role: 'group', 'aria-label': 'The 3 by 3 picture: each button cycles free, on, off' });
  const clear = el('button', { type: 'button', id: 'picture-clear', text: 'Free every pixel' });
  const note = el('p', { class: 'figure-note', id: 'picture-note' });
  root.replaceChildren(el('div', { class: 'fig-columns' }, grid,
    el('div', {}, el('p', { class: 'figure-note', text: 'Click a pixel to clamp it on, again for off, again to free it. Free pixels show the model’s probability that they are on, given the clamped ones: the more filled (like an on pixel), the more likely on.' }),
      el('div', { class: 'buttons' }, clear), note)), problem);
  const cells = clamp.map((_, i) => {
    const b = el('button', { type: 'button', class: 'pixel free', id: `pixel-${i}`, 'aria-label': `pixel row ${Math.floor(i / SIDE) + 1} column ${(i % SIDE) + 1}` });
    b.addEventListener('click', () => {
      clamp[i] = clamp[i] === -1 ? 1 : clamp[i] === 1 ? 0 : -1;
      refresh();
    });
    grid.append(b);
    return b;
  });
  clear.addEventListener('click', () => {
    clamp.fill(-1);
    refresh();
  });
  let trained = null;
  const ready = request('guide', 'pictureModel').then((m) => {
    trained = m;
    note.textContent = `The model: 6 hidden units trained by the exact gradient on the ${m.patterns} bars-and-stripes pictures; `
      + `exact mean log-likelihood ${fixed(m.logLikelihood, 3)} nats (the best possible, each picture equally likely: ${fixed(-Math.log(m.patterns), 3)}).`;
  });
  const refresh = latest(async () => {
    await ready;
    const p = await request('guide', 'clamped', { params: trained.params, clamp });
    cells.forEach((cell, i) => {
      const state = clamp[i] === -1 ? 'free' : clamp[i] === 1 ? 'on' : 'off';
      cell.className = `pixel ${state}`;
      cell.style.setProperty('--p', String(p[i]));
      cell.textContent = state === 'free' ? fixed(p[i], 2) : state;
      cell.classList.toggle('likely', p[i] > 0.5);
      cell.dataset.p = String(p[i]);
      cell.setAttribute('aria-label', `pixel row ${Math.floor(i / SIDE) + 1} column ${(i % SIDE) + 1}: ${state === 'free' ? `free, p(on) = ${fixed(p[i], 2)}` : `clamped ${state}`}`);
    });
  }, problem);
  refresh();
  return { ready };
}

// ---- step 8: the race ------------------------------------------------------------------------

const RACE_LENGTH = 2000;

export function raceFigure(root) {
  const problem = el('p', { class: 'figure-error', role: 'alert', hidden: '' });
  const play = el('button', { type: 'button', id: 'race-play', 'aria-pressed': 'false', text: 'Start the race' });
  const reset = el('button', { type: 'button', id: 'race-reset', text: 'Reset' });
  const rate = el('select', { id: 'race-rate', 'aria-label': 'Learning rate' },
    ...[0.1, 0.2, 0.5, 1].map((r) => el('option', { value: String(r), text: String(r) })));
  rate.value = '0.5';
  const status = el('p', { class: 'figure-note', id: 'race-status', 'aria-live': 'off' });
  const chartBox = el('div', { class: 'chart', id: 'chart-race', 'data-points': '0' });
  root.replaceChildren(el('div', { class: 'buttons' }, play, reset, el('label', { class: 'slider' }, el('span', { text: 'learning rate (all five)' }), rate)),
    status, chartBox, problem);
  let chart = null;
  let running = false;
  let state = null;

  const show = (s) => {
    state = s;
    if (!chart) {
      chart = new LineChart(chartBox, [...s.runners.map((label) => ({ label })), { label: 'best possible (−log 14)', width: 1, colour: '#8a8a84', dash: [6, 4] }],
        { title: 'Exact log-likelihood of the 14 pictures (nats)', xLabel: 'updates', yLabel: 'nats', height: 260 });
    }
    chart.push(s.steps, [...s.logLikelihood, s.best]);
    const order = s.runners.map((label, k) => [label, s.logLikelihood[k]]).sort((a, b) => b[1] - a[1]);
    status.textContent = `${s.steps} of ${RACE_LENGTH} updates · ${order.map(([label, v]) => `${label} ${fixed(v, 2)}`).join(' · ')}`;
    status.dataset.steps = String(s.steps);
    status.dataset.values = JSON.stringify(s.logLikelihood);
    if (s.steps >= RACE_LENGTH) setRunning(false);
  };
  const start = latest(async () => {
    chart?.clear();
    show(await request('guide', 'raceNew', { rate: Number(rate.value), seed: 1 }));
  }, problem);
  const advance = latest(async () => show(await request('guide', 'raceRun', { steps: 20 })), problem);
  const loop = () => {
    if (!running) return;
    advance();
    requestAnimationFrame(loop);
  };
  const setRunning = (on) => {
    running = on && (state?.steps ?? 0) < RACE_LENGTH;
    play.setAttribute('aria-pressed', String(running));
    play.textContent = running ? 'Pause' : (state?.steps ?? 0) >= RACE_LENGTH ? 'Finished' : 'Start the race';
    play.disabled = !running && (state?.steps ?? 0) >= RACE_LENGTH;
    if (running) requestAnimationFrame(loop);
  };
  play.addEventListener('click', () => setRunning(!running));
  reset.addEventListener('click', async () => {
    setRunning(false);
    await start();
    setRunning(false);
  });
  rate.addEventListener('change', () => reset.click());
  return { ready: start() };
}
