// The critic panel: the article's first example. Two critics' five-word reviews, a
// trigram model of each (in the engine's worker), and what a joint distribution lets
// one do: sample, complete, score, and tell who wrote a review. The panel owns its DOM,
// its events and its three settings (smoothing k, temperature, the context shown),
// which live in the URL hash with the others.
import { LIMITS, DEFAULTS, rangeProblem, contextProblem } from './settings.js';

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = 'rbm-lab-critic-reviews';
const TABLE_ROWS = 12;
const SEED = 7;
/** The engine's longest sampled review (trigram::MAX_WORDS). */
const MAX_WORDS = 30;

/** `{…}` of the panel's settings, read by the page when it writes the hash. */
export class CriticPanel {
  /**
   * `request(action, fields)` sends a request to the worker and resolves with its
   * result (or rejects with its message); `onChange()` is called when a setting changed.
   */
  constructor({ request, onChange }) {
    this.request = request;
    this.onChange = onChange;
    const { smoothing_k, temperature, context } = DEFAULTS.mnist;
    this.values = { smoothing_k, temperature, context };
    this.started = false;
    this.corpus = null; // [{name, training, held_out}]
    this.learned = null; // {vocabulary, counts, right, total}
    this.takeCount = 0;
    this.keptAside = null; // {text, author} of the review last taken from those kept aside
  }

  /** Builds the controls (once the engine's ranges are known) and learns the reviews. */
  async start(values) {
    this.started = true;
    // The address's settings first: the page writes the hash from these while the
    // reviews are still loading.
    this.apply(values);
    for (const [id, key] of [['critic-k', 'smoothing_k'], ['critic-temperature', 'temperature']]) {
      const input = $(id);
      const row = LIMITS[key];
      Object.assign(input, { min: row.page.min, max: row.page.max });
      input.title = `${input.title} Allowed: ${row.page_allowed}.`;
      input.addEventListener('change', () => this.changeNumber(key, input));
    }
    for (const id of ['critic-context-1', 'critic-context-2']) $(id).addEventListener('change', () => this.changeContext());
    $('critic-context-which').addEventListener('change', () => this.showTable());
    $('critic-learn').addEventListener('click', () => this.learn());
    $('critic-original').addEventListener('click', () => this.restoreOriginal());
    $('critic-sample-0').addEventListener('click', () => this.sample(0));
    $('critic-sample-1').addEventListener('click', () => this.sample(1));
    $('critic-complete').addEventListener('click', () => this.complete());
    $('critic-score').addEventListener('click', () => this.score());
    $('critic-take').addEventListener('click', () => this.takeKeptAside());
    for (const id of ['critic-prefix', 'critic-review']) {
      $(id).addEventListener('keydown', (event) => {
        if (event.key === 'Enter') $(id === 'critic-prefix' ? 'critic-complete' : 'critic-score').click();
      });
    }
    await this.loadCorpus();
  }

  /** The critics' reviews from the engine, then their models. */
  async loadCorpus() {
    try {
      this.corpus = await this.request('corpus');
    } catch (error) {
      // The engine was replaced meanwhile: restart() asks the new one.
      if (error?.engineReplaced) return;
      throw error;
    }
    this.corpus.forEach((critic, k) => {
      $(`critic-name-${k}`).textContent = critic.name;
      $(`critic-sample-${k}`).textContent = `A review by ${critic.name}`;
      $('critic-context-which').options[k].textContent = critic.name;
    });
    const saved = this.savedReviews();
    this.corpus.forEach((critic, k) => { $(`critic-reviews-${k}`).value = saved?.[k] ?? critic.training.join('\n'); });
    await this.learn();
  }

  /** Settings from the address (already checked by the hash reader); `relearn` when k changed. */
  apply(values, { relearn = false } = {}) {
    const k = this.values.smoothing_k;
    for (const key of ['smoothing_k', 'temperature', 'context']) if (values[key] !== undefined) this.values[key] = values[key];
    $('critic-k').value = String(this.values.smoothing_k);
    $('critic-temperature').value = String(this.values.temperature);
    const [first = '', second = ''] = this.contextWords();
    $('critic-context-1').value = first;
    $('critic-context-2').value = second;
    if (relearn && this.corpus) {
      if (this.values.smoothing_k !== k) this.learn();
      else this.showTable();
    }
  }

  /** After the worker was replaced: learn again (the models lived in the old one). */
  async restart() {
    if (this.corpus) await this.learn();
    else if (this.started) await this.loadCorpus();
  }

  /** The context's two words ('' for the start of a review). */
  contextWords() {
    const words = this.values.context.split(' ').filter(Boolean);
    if (words.length === 0) return ['', ''];
    // One word is the second of the two (the first is the start of a review).
    return words.length === 1 ? ['', words[0]] : words;
  }

  message(text, kind = 'note') {
    $('critic-message').textContent = text;
    $('critic-message').dataset.kind = kind;
    $('critic-message').hidden = !text;
  }

  changeNumber(key, input) {
    const value = input.value.trim() === '' ? NaN : Number(input.value) + 0;
    const problem = rangeProblem(key, value);
    if (problem) {
      this.message(`Error: ${problem}`, 'error');
      input.value = String(this.values[key]);
      return;
    }
    this.values[key] = value;
    input.value = String(value);
    this.onChange();
    if (key === 'smoothing_k') this.learn();
  }

  changeContext() {
    const text = `${$('critic-context-1').value} ${$('critic-context-2').value}`.trim();
    const problem = contextProblem(text);
    if (problem) {
      this.message(`Error: ${problem}`, 'error');
      this.apply({});
      return;
    }
    this.values.context = text.split(/\s+/).filter(Boolean).join(' ');
    this.onChange();
    this.showTable();
  }

  savedReviews() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
      return Array.isArray(saved) && saved.every((t) => typeof t === 'string') ? saved : null;
    } catch {
      return null;
    }
  }

  /** The reviews as typed, kept in this browser so that a reload does not lose them. */
  saveReviews(texts) {
    try {
      const original = this.corpus.map((c) => c.training.join('\n'));
      if (texts.every((t, k) => t === original[k])) localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, JSON.stringify(texts));
    } catch { /* storage refused: the text stays on screen */ }
  }

  restoreOriginal() {
    this.corpus.forEach((critic, k) => { $(`critic-reviews-${k}`).value = critic.training.join('\n'); });
    this.learn();
  }

  async learn() {
    const texts = this.corpus.map((_, k) => $(`critic-reviews-${k}`).value);
    this.saveReviews(texts);
    try {
      this.learned = await this.request('train', {
        names: this.corpus.map((c) => c.name),
        reviews: texts,
        k: this.values.smoothing_k,
        seed: SEED,
        heldOut: this.corpus.map((c) => c.held_out.join('\n')),
      });
    } catch (error) {
      this.message(`Error: ${error.message}. Your text is kept; the models are still the last ones learned.`, 'error');
      return;
    }
    const { counts, vocabulary, right, total } = this.learned;
    this.message('');
    $('critic-status').textContent = `Learned from ${counts.join(' and ')} reviews with k = ${this.values.smoothing_k}; `
      + `${vocabulary.length} words in all. On the ${total} reviews kept aside (never learned from), `
      + `${right} of ${total} (${Math.round((100 * right) / total)} %) are attributed to the right critic.`;
    $('critic-words').replaceChildren(...vocabulary.map((w) => new Option(w)));
    this.showTable();
  }

  async showTable() {
    const which = Number($('critic-context-which').value);
    const [first, second] = this.contextWords().map((w) => w || '<s>');
    try {
      const table = await this.request('table', { which, first: first ?? '<s>', second: second ?? '<s>' });
      const top = table.entries.slice(0, TABLE_ROWS);
      const max = top[0]?.probability || 1;
      const name = this.corpus[which].name;
      const shown = [first, second].map((w) => (w === '<s>' ? '(start)' : `“${w}”`)).join(' ');
      $('critic-table-note').textContent = table.count > 0
        ? `${name}: after ${shown}, seen ${table.count === 1 ? 'once' : `${table.count} times`}. The ${TABLE_ROWS} likeliest next words of ${table.entries.length} (×n: seen n times after it):`
        : `${name} never wrote ${shown}: smoothing gives every one of the ${table.entries.length} possible next words 1/${table.entries.length}.`;
      $('critic-table').replaceChildren(...top.map((e) => bar(
        `${e.word === '</s>' ? '(end)' : e.word}${e.count ? ` ×${e.count}` : ''}`,
        e.probability / max,
        `${(100 * e.probability).toFixed(1)} %`,
      )));
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  async sample(which) {
    try {
      const words = await this.request('sample', { which, temperature: this.values.temperature });
      const item = document.createElement('li');
      const length = words.length >= MAX_WORDS ? ` (cut off at ${MAX_WORDS} words)` : words.length === 5 ? '' : ` (${words.length} words)`;
      item.textContent = `${this.corpus[which].name}: “${words.join(' ')}”${length}`;
      $('critic-samples').prepend(item);
      while ($('critic-samples').children.length > 8) $('critic-samples').lastChild.remove();
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  async complete() {
    const text = $('critic-prefix').value;
    if (!text.trim()) {
      this.message('Type the first word or two of a review, then press Complete.');
      return;
    }
    try {
      const completions = await Promise.all(this.corpus.map((_, which) =>
        this.request('complete', { which, text, temperature: this.values.temperature })));
      $('critic-completions').replaceChildren(...completions.map((words, k) => {
        const item = document.createElement('li');
        item.textContent = `${this.corpus[k].name}: “${words.join(' ')}”`;
        return item;
      }));
      this.message('');
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
    }
  }

  takeKeptAside() {
    const reviews = this.corpus.flatMap((c, k) => c.held_out.map((text) => ({ text, k })));
    const { text, k } = reviews[(this.takeCount * 7) % reviews.length];
    this.takeCount += 1;
    $('critic-review').value = text;
    this.keptAside = { text, author: k };
    this.score();
  }

  async score() {
    const text = $('critic-review').value;
    if (!text.trim()) {
      this.message('Type a review to score, or take one of the kept-aside reviews.');
      return;
    }
    let result;
    try {
      result = await this.request('attribute', { text });
    } catch (error) {
      this.message(`Error: ${error.message}`, 'error');
      $('critic-verdict').textContent = '';
      $('critic-scores').replaceChildren();
      return;
    }
    this.message('');
    const [a] = result.scores;
    // One scale for both critics, so that their bars compare.
    const most = Math.max(...result.scores.flatMap((score) => score.words.map((w) => -w.log_probability)), 1e-9);
    $('critic-scores').replaceChildren(...result.scores.map((score, k) => scoreBlock(this.corpus[k].name, score, most)));
    const names = this.corpus.map((c) => c.name);
    const winner = result.ratio >= 0 ? 0 : 1;
    const factor = Math.exp(Math.abs(result.ratio));
    const kept = this.keptAside?.text === text ? this.keptAside.author : null;
    const truth = kept === null ? ''
      : ` It was kept aside from ${names[kept]}'s reviews: ${kept === winner ? 'right' : 'wrong'}.`;
    const unknown = a.words.slice(0, -1).every((w) => !w.known)
      ? ' Every word is unknown to both critics, so only the smoothing speaks: the verdict means little.' : '';
    const verdict = Math.abs(result.ratio) < 1e-9
      ? 'both critics find it equally likely'
      : `it reads like ${names[winner]} (${factor < 1e6 ? factor.toFixed(1) : factor.toExponential(1)} times likelier under that critic's model)`;
    $('critic-verdict').textContent = `log P(${names[0]}) − log P(${names[1]}) = ${result.ratio.toFixed(2)} nats: ${verdict}.${truth}${unknown}`;
  }
}

/** A labelled horizontal bar: `fraction` of the full width. */
function bar(label, fraction, value) {
  const row = document.createElement('div');
  row.className = 'bar-row';
  const name = document.createElement('span');
  name.className = 'bar-label';
  name.textContent = label;
  const track = document.createElement('span');
  track.className = 'bar-track';
  const fill = document.createElement('span');
  fill.className = 'bar-fill';
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  track.append(fill);
  const number = document.createElement('span');
  number.className = 'bar-value';
  number.textContent = value;
  row.append(name, track, number);
  return row;
}

/** One critic's score of a review: its total, and each word's cost as a bar (`most` is full width). */
function scoreBlock(name, score, most) {
  const block = document.createElement('div');
  block.className = 'critic-score';
  const title = document.createElement('h4');
  title.textContent = `${name}: log P = ${score.log_probability.toFixed(2)} nats, perplexity ${score.perplexity.toFixed(1)}`;
  block.append(title);
  const costs = score.words.map((w) => -w.log_probability);
  score.words.forEach((w, i) => {
    const label = w.word === '</s>' ? '(end)' : w.known ? w.word : `${w.word} (unknown)`;
    block.append(bar(label, costs[i] / most, `${costs[i].toFixed(2)} nats`));
  });
  if (score.unknown.length) {
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = `Not in the vocabulary, scored as the unknown token: ${score.unknown.join(', ')}.`;
    block.append(note);
  }
  return block;
}
