// The guide page: the lab's worker (through the same watchdog) answers every figure's
// requests, and this module wires the figures to it. The figures live in two panels'
// modules: guide-tiny.js (steps 3 to 7, one tiny model shared by all five) and
// guide-figures.js (the critic, the picture model and the race).
import { EngineConnection } from './engine.js';
import { tinyFigures } from './guide-tiny.js';
import { criticFigure, pictureFigure, raceFigure } from './guide-figures.js';

const pending = new Map();
let nextId = 0;
let ready = false;
const waiting = [];

const engine = new EngineConnection({
  url: new URL('./worker.js', import.meta.url),
  onMessage(data) {
    if (data.status === 'engine-ready') {
      ready = true;
      for (const send of waiting.splice(0)) send();
      return;
    }
    if (data.status !== 'guide' && data.status !== 'critic') return;
    const answer = pending.get(data.id);
    if (!answer) return;
    pending.delete(data.id);
    if (data.error) answer.reject(new Error(data.error));
    else answer.resolve(data.result);
  },
  onRestart(reason) {
    // Requests in flight died with the worker: their figures say so and may retry.
    for (const answer of pending.values()) answer.reject(new Error(`the engine restarted (${reason})`));
    pending.clear();
    ready = false;
    status(`The engine stopped (${reason}) and was restarted; the figures start again.`);
    setTimeout(() => location.reload(), 1500);
  },
  onUnavailable(reason) {
    status(`The engine could not start: ${reason}. Reload the page; if that does not help, this browser may lack WebAssembly in workers.`);
  },
});

function status(text) {
  const line = document.getElementById('guide-status');
  if (line) {
    line.textContent = text;
    line.hidden = !text;
  }
}

/** A request to the worker: `command` is 'guide' or 'critic'; resolves with its result. */
export function request(command, action, fields = {}) {
  return new Promise((resolve, reject) => {
    nextId += 1;
    const id = nextId;
    pending.set(id, { resolve, reject });
    const send = () => engine.send(command, { action, id, ...fields });
    if (ready) send();
    else waiting.push(send);
  });
}

/**
 * Runs `work()` now, or once the one in flight has finished: a slider dragged fast
 * asks for many updates, and only the latest matters. Errors are shown in `where`.
 */
export function latest(work, where) {
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await work();
      if (where) where.hidden = true;
    } catch (error) {
      if (where) {
        where.textContent = `Error: ${error.message}`;
        where.hidden = false;
      }
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  };
  return run;
}

const line = document.createElement('p');
line.id = 'guide-status';
line.className = 'notice';
line.setAttribute('role', 'status');
line.hidden = true;
document.querySelector('header')?.append(line);

const figures = [
  criticFigure(document.getElementById('figure-1')),
  pictureFigure(document.getElementById('figure-2')),
  ...tinyFigures({
    graph: document.getElementById('figure-3'),
    conditionals: document.getElementById('figure-4'),
    gradient: document.getElementById('figure-5'),
    chain: document.getElementById('figure-6'),
    gibbs: document.getElementById('figure-7'),
  }),
  raceFigure(document.getElementById('figure-8')),
];
Promise.all(figures.map((f) => f.ready)).then(() => {
  document.body.dataset.ready = 'true';
}, (error) => status(`A figure could not start: ${error.message}`));
// For the page tests and the curious.
window.rbmGuide = { request };
