// The page's connection to the engine's worker, with a watchdog. The page pings every
// PING_MS and the worker answers at once; any message counts as a sign of life. Silence
// is measured from the oldest unanswered ping, so a background tab whose timers the
// browser slows to once a minute is not mistaken for a dead worker. Before long synchronous
// work it says how long it expects to be busy, and the watchdog waits that much longer.
// A worker that crashes, traps (it then reports itself "fatal"), runs out of memory or
// stops answering for HANG_MS is terminated and replaced, and `onRestart` is told why,
// so the page can restore the last good model.

const PING_MS = 1000;
/** Silence longer than this (beyond an announced busy time) means the worker is gone. */
export const HANG_MS = 4000;
/** A worker still loading its modules gets longer (a slow network, a slow device). */
const LOADING_MS = 20000;

export class EngineConnection {
  /**
   * `onMessage(data)` gets every message but pings' answers; `onRestart(reason)` is
   * called after a dead worker was replaced (the new one is not ready yet: its
   * 'engine-ready' arrives through onMessage); `onUnavailable(reason)` when the engine
   * could not even start.
   */
  constructor({ url, onMessage, onRestart, onUnavailable }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onRestart = onRestart;
    this.onUnavailable = onUnavailable;
    this.worker = null;
    this.ready = false;
    this.lastHeard = 0;
    this.pingSent = null; // when the oldest unanswered ping was sent
    this.lastWatch = 0;
    this.busyUntil = 0;
    this.restarts = 0;
    this.timer = setInterval(() => this.watch(), PING_MS);
    this.start();
  }

  start() {
    this.ready = false;
    this.lastHeard = performance.now();
    this.pingSent = this.lastHeard; // loading counts as an unanswered ping
    this.busyUntil = 0;
    const worker = new Worker(this.url, { type: 'module' });
    this.worker = worker;
    worker.onmessage = ({ data }) => {
      if (worker !== this.worker) return;
      this.lastHeard = performance.now();
      this.pingSent = null;
      // The worker does one thing at a time: a message after a 'busy' one means that
      // work is over.
      if (data.status !== 'busy') this.busyUntil = 0;
      if (data.status === 'pong') return;
      if (data.status === 'busy') {
        this.busyUntil = performance.now() + 3 * data.expectedMs + 2000;
        this.onMessage(data);
        return;
      }
      if (data.status === 'unavailable') {
        this.stop();
        this.onUnavailable(data.message);
        return;
      }
      if (data.status === 'engine-ready') this.ready = true;
      if (data.status === 'fatal') {
        this.replace(`it stopped with an internal error (${data.message})`);
        return;
      }
      this.onMessage(data);
    };
    worker.onerror = (event) => {
      if (worker !== this.worker) return;
      event.preventDefault?.();
      const message = event.message || 'the worker failed';
      if (!this.ready) {
        // It never started: replacing it would fail the same way.
        this.stop();
        this.onUnavailable(message);
        return;
      }
      this.replace(`it crashed (${message})`);
    };
    worker.onmessageerror = () => {
      if (worker === this.worker) this.replace('a message from it could not be read');
    };
  }

  watch() {
    if (!this.worker) return;
    const now = performance.now();
    const sinceLastWatch = now - this.lastWatch;
    this.lastWatch = now;
    if (sinceLastWatch > 3 * PING_MS && this.pingSent !== null) {
      // The tab was frozen or the machine slept: the answer may be queued behind this
      // tick. Ask again rather than judge.
      this.pingSent = now;
      this.worker.postMessage({ command: 'ping' });
      return;
    }
    // Silent for too long since the oldest unanswered ping, and past any announced busy time.
    const limit = this.ready ? HANG_MS : LOADING_MS;
    if (this.pingSent !== null && now - this.pingSent > limit && now > this.busyUntil + limit) {
      if (!this.ready) {
        this.stop();
        this.onUnavailable(`it did not load within ${LOADING_MS / 1000} s`);
        return;
      }
      this.replace(`it stopped answering for ${Math.round((now - this.pingSent) / 1000)} s (it may have run out of memory)`);
      return;
    }
    if (this.pingSent === null) this.pingSent = now;
    this.worker.postMessage({ command: 'ping' });
  }

  replace(reason) {
    this.worker?.terminate();
    this.worker = null;
    this.restarts += 1;
    this.start();
    this.onRestart(reason);
  }

  /** Starts a new worker at `url` in place of this one (not a crash: no onRestart). */
  switchTo(url) {
    this.url = url;
    this.worker?.terminate();
    this.worker = null;
    this.start();
  }

  stop() {
    this.worker?.terminate();
    this.worker = null;
    clearInterval(this.timer);
  }

  send(command, extra = {}, transfer = []) {
    this.worker?.postMessage({ command, ...extra }, transfer);
  }
}
