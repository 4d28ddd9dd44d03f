// The engine worker's helpers: one module worker per extra core, each computing shards
// of split updates (www/helper.js, src/shard.rs). The pool hands shards out, passes
// answers back, and notices a helper that fails (an error event, an error answer, or
// no answer in time): its shard is reported lost, so the engine computes it itself,
// and the helper is replaced. After MAX_FAILURES failures with no good answer between
// them (a helper script that no longer loads, say) the pool gives up: it stops every
// helper and the engine computes every share from then on (the same bits, one core).
// Answers to work that was cancelled are dropped.
import { runningMaths } from './maths.js';

/**
 * A helper's script, asked for the build its engine runs (maths.js): in the lab's
 * worker, the build that worker runs; on a page (the benchmark), the deterministic
 * build.
 */
function helperUrl() {
  const url = new URL('./helper.js', import.meta.url);
  if (runningMaths() === 'fast') url.searchParams.set('maths', 'fast');
  return url;
}

/**
 * The split update's tasks that `trainer` (the engine's Trainer, in the module whose
 * memory is `memory`) has to hand out, for `HelperPool.dispatch`: [{shard, len,
 * views}], the views into wasm memory valid until the next call into the module.
 */
export function shardTasks(trainer, memory) {
  return trainer.shardRequests().map(({ shard, len, parts }) => {
    const views = [];
    for (let i = 0; i < parts.length; i += 2) views.push(new Uint8Array(memory.buffer, parts[i], parts[i + 1]));
    return { shard, len, views };
  });
}

/** A helper that has not answered in this long (plus 20 times the expected time) is presumed dead. */
const GRACE_MS = 5000;
/** Failures in a row after which the helpers are given up. */
const MAX_FAILURES = 3;

export class HelperPool {
  /**
   * `onAnswer(bytes, shard)` gets each answer; `onLost(shard, why)` each shard a helper
   * failed to compute; `onGiveUp(why)` is called once if the helpers are given up.
   */
  constructor(onAnswer, onLost, onGiveUp) {
    this.onAnswer = onAnswer;
    this.onLost = onLost;
    this.onGiveUp = onGiveUp;
    this.helpers = [];
    this.wanted = 0;
    this.nextJob = 1;
    /** job -> {helper, shard, timer} */
    this.jobs = new Map();
    this.failures = 0;
    /** Why the helpers were given up, or null. */
    this.unavailable = typeof Worker === 'undefined' ? 'this browser cannot start workers from a worker' : null;
  }

  get size() {
    return this.helpers.length;
  }

  /** Keeps `count` helpers (0 for none; none at all once given up). */
  resize(count) {
    this.wanted = count;
    while (this.helpers.length > count) this.retire(this.helpers.pop());
    while (!this.unavailable && this.helpers.length < count) {
      const helper = this.spawn();
      if (!helper) break;
      this.helpers.push(helper);
    }
  }

  spawn() {
    let worker;
    try {
      worker = new Worker(helperUrl(), { type: 'module' });
    } catch (error) {
      this.giveUp(`a helper could not be started (${error?.message ?? error})`);
      return null;
    }
    const helper = { worker };
    if (this.crashPending) worker.postMessage({ crash: true });
    this.crashPending = false;
    worker.onmessage = ({ data }) => this.answered(helper, data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.failed(helper, event.message || 'the helper stopped with an error');
    };
    worker.onmessageerror = () => this.failed(helper, 'an answer could not be read');
    return helper;
  }

  /** Stops `helper`; its jobs are reported lost. */
  retire(helper, why = 'its helper was stopped') {
    helper.worker.terminate();
    for (const [job, entry] of this.jobs) {
      if (entry.helper === helper) {
        clearTimeout(entry.timer);
        this.jobs.delete(job);
        if (entry.handlers) entry.handlers.onLost(why);
        else this.onLost(entry.shard, why);
      }
    }
  }

  /**
   * Hands `requests` (`shardTasks`' [{shard, len, views}], a task's bytes being its
   * views of wasm memory one after the other) out, shard s to helper (s - 1) mod size.
   * Each is copied into the buffer its helper's last answer came in, when it fits: a
   * new 2 MB buffer costs twenty times the copy.
   */
  dispatch(requests, expectedMs) {
    for (const { shard, len, views } of requests) {
      if (this.helpers.length === 0) {
        this.onLost(shard, this.unavailable ?? 'no helper is running');
        continue;
      }
      const helper = this.helpers[(shard - 1) % this.helpers.length];
      const job = this.nextJob++;
      const timer = setTimeout(() => this.failed(helper, 'it did not answer in time'), GRACE_MS + 20 * expectedMs);
      this.jobs.set(job, { helper, shard, timer });
      const spare = helper.spare?.byteLength >= len ? helper.spare : new ArrayBuffer(len);
      helper.spare = null;
      const bytes = new Uint8Array(spare, 0, len);
      let at = 0;
      for (const view of views) {
        bytes.set(view, at);
        at += view.length;
      }
      helper.worker.postMessage({ job, bytes }, [spare]);
    }
  }

  /**
   * Sends helper `index` a task of another kind (`{[kind]: job, bytes}`, transferred),
   * answered by `handlers.onDone(bytes)` or, if it fails, is cancelled or its helper
   * stops, `handlers.onLost(why)`. False, calling nothing, when there is no such helper.
   */
  send(index, kind, bytes, expectedMs, handlers) {
    const helper = this.helpers[index];
    if (!helper) return false;
    const job = this.nextJob++;
    const timer = setTimeout(() => this.failed(helper, 'it did not answer in time'), GRACE_MS + 20 * expectedMs);
    this.jobs.set(job, { helper, timer, handlers });
    helper.worker.postMessage({ [kind]: job, bytes }, [bytes.buffer]);
    return true;
  }

  /**
   * Drops every shard under way: their answers will be ignored. Tasks of other kinds
   * (sent with `send`, for other work than the update) go on.
   */
  cancel() {
    for (const [job, entry] of this.jobs) {
      if (entry.handlers) continue;
      clearTimeout(entry.timer);
      this.jobs.delete(job);
    }
  }

  answered(helper, { job, bytes, error }) {
    const entry = this.jobs.get(job);
    if (!entry) return; // cancelled, or already given up on
    clearTimeout(entry.timer);
    this.jobs.delete(job);
    if (entry.handlers) {
      if (error) {
        entry.handlers.onLost(error);
        this.failed(helper, error);
      } else {
        this.failures = 0;
        entry.handlers.onDone(bytes);
      }
      return;
    }
    if (error) {
      this.onLost(entry.shard, error);
      this.failed(helper, error);
      return;
    }
    this.failures = 0;
    // (onAnswer copies the bytes into the engine; the buffer then carries the next task.)
    this.onAnswer(bytes, entry.shard);
    helper.spare = bytes.buffer;
  }

  /** Replaces `helper` (or gives up after MAX_FAILURES in a row); its jobs are lost. */
  failed(helper, why) {
    const at = this.helpers.indexOf(helper);
    if (at < 0) return;
    this.failures += 1;
    this.helpers.splice(at, 1);
    this.retire(helper, why);
    if (this.failures >= MAX_FAILURES) {
      this.giveUp(`helpers failed ${this.failures} times in a row; the last: ${why}`);
      return;
    }
    const replacement = this.spawn();
    if (replacement) this.helpers.splice(at, 0, replacement);
  }

  giveUp(why) {
    if (this.unavailable) return;
    this.unavailable = why;
    for (const helper of this.helpers.splice(0)) this.retire(helper, why);
    this.onGiveUp?.(why);
  }

  /**
   * Asks every helper to crash on its next job, or with none running, the next one
   * started (page tests of the recovery).
   */
  crashNext() {
    for (const helper of this.helpers) helper.worker.postMessage({ crash: true });
    this.crashPending = this.helpers.length === 0;
  }
}

/**
 * An exact log Z (the engine's LogPartitionJob) shared between the thread that holds
 * it and a pool's helpers. Each helper takes CHUNK pieces at a time from the front,
 * two tasks in flight so that it never waits for the next; the holder computes one
 * piece from the back at each `step()` and reads the helpers' answers between steps.
 * A helper's lost task (an error, a stopped helper) goes back to the holder, and that
 * helper (or its replacement) gets no more of this job. An error in taking an answer
 * that the holder's `isFatal` says leaves its engine untrustworthy (a trap, a freed
 * object) is thrown by the next `step()`, for the holder's loop to handle as its own.
 * However the pieces were shared out, the value has the same bits (src/exact.rs).
 * `pieceMs` is a piece's expected time (for the helpers' timeouts); `onChange()` is
 * called when an answer or a loss may let `step()` do more.
 */
export class SharedLogPartition {
  static CHUNK = 4;

  constructor(job, pool, { pieceMs, onChange = () => {}, isFatal = () => false }) {
    this.job = job;
    this.isFatal = isFatal;
    this.pool = pool;
    this.onChange = onChange;
    this.front = 0;
    this.back = job.pieces;
    /** Piece ranges [start, end) whose task was lost, to compute here. */
    this.lost = [];
    this.pending = 0;
    /** Pieces computed here (the rest by helpers). */
    this.here = 0;
    this.stopped = false;
    this.fatal = null;
    const expectedMs = SharedLogPartition.CHUNK * pieceMs;
    for (let i = 0; i < pool.size; i++) {
      for (let t = 0; t < 2; t++) this.hand(i, expectedMs);
    }
  }

  /** Sends helper `index` the next pieces from the front, if any are left. */
  hand(index, expectedMs) {
    if (this.front >= this.back) return;
    const start = this.front;
    // Smaller near the end, so that no helper is left with a long task when the rest
    // is done: at most an eighth of what is left per helper.
    const left = this.back - this.front;
    const size = Math.max(1, Math.min(SharedLogPartition.CHUNK, Math.floor(left / (8 * this.pool.size))));
    const end = start + size;
    const sent = this.pool.send(index, 'logPartition', this.job.taskBytes(start, end), expectedMs, {
      onDone: (bytes) => {
        if (this.stopped) return;
        this.pending -= 1;
        try {
          this.job.accept(bytes);
        } catch (error) {
          if (this.isFatal(error)) this.fatal = error;
          // A damaged answer: its pieces are computed here.
          this.lost.push([start, end]);
        }
        this.hand(index, expectedMs);
        this.onChange();
      },
      onLost: () => {
        if (this.stopped) return;
        this.pending -= 1;
        this.lost.push([start, end]);
        this.onChange();
      },
    });
    if (!sent) return;
    this.front = end;
    this.pending += 1;
  }

  /** Whether every piece is in. */
  get done() {
    return this.job.nextMissing === undefined;
  }

  /** Whether `step()` has a piece to compute here now (else wait for `onChange`). */
  get canStep() {
    return Boolean(this.fatal) || this.lost.length > 0 || this.back > this.front || (this.pending === 0 && !this.done);
  }

  /** Ends the sharing: helpers' answers are dropped from now on (the job may be freed). */
  stop() {
    this.stopped = true;
  }

  /** Computes one piece here: a lost one first, else the last not handed out. */
  step() {
    if (this.fatal) throw this.fatal;
    this.here += 1;
    const range = this.lost[0];
    if (range) {
      this.job.compute(range[0], range[0] + 1);
      range[0] += 1;
      if (range[0] === range[1]) this.lost.shift();
    } else if (this.back > this.front) {
      this.back -= 1;
      this.job.compute(this.back, this.back + 1);
    } else if (this.pending === 0 && !this.done) {
      // (Nothing handed out is missing, so this cannot happen; it ends the job safely.)
      const piece = this.job.nextMissing;
      this.job.compute(piece, piece + 1);
    }
  }

  /** log Z, once done. */
  get value() {
    return this.job.value;
  }
}

/**
 * The helper that does the learning curves' background work: AIS estimates of log Z
 * (src/ais.rs) and the curves' points (src/monitor.rs), started on first use and kept.
 * That work then takes the other core, not training's time, and gives the same bits
 * as in place (the same jobs from the same bytes). One job of each kind at a time;
 * the rows evaluations read are sent once per trainer (and again to a new helper). A
 * helper that fails (an error event, an error answer, or no answer in time) is
 * stopped and its jobs reported lost, so the engine computes them itself; the next
 * job starts a new helper, until MAX_FAILURES in a row, after which all of it is
 * computed in place.
 */
export class BackgroundHelper {
  constructor() {
    this.worker = null;
    this.nextJob = 1;
    /** kind ('ais' or 'evaluation') -> {job, timer, onProgress, onDone, onLost} */
    this.current = new Map();
    /** The id of the evaluation rows the running helper holds. */
    this.dataSent = null;
    this.failures = 0;
    this.crashPending = false;
    this.unavailable = typeof Worker === 'undefined' ? 'this browser cannot start workers from a worker' : null;
  }

  /** Starts the helper if none runs; false when none can. */
  start() {
    if (this.worker) return true;
    if (this.unavailable) return false;
    let worker;
    try {
      worker = new Worker(helperUrl(), { type: 'module' });
    } catch (error) {
      this.unavailable = `the background helper could not be started (${error?.message ?? error})`;
      return false;
    }
    this.worker = worker;
    this.dataSent = null;
    worker.onmessage = ({ data }) => this.answered(worker, data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.failed(worker, event.message || 'the background helper stopped with an error');
    };
    worker.onmessageerror = () => this.failed(worker, 'an answer could not be read');
    return true;
  }

  /**
   * Sends a task of `kind`: 'ais' (`Trainer.aisTask()`'s bytes) or 'evaluation'
   * (`Trainer.evaluationTask()`'s, with `rows: {id, bytes()}`, the rows it reads,
   * fetched only when this helper does not hold them yet). Then `onProgress(fraction)`
   * now and then, and one of `onDone(bytes)` or `onLost(why)`. Returns false, calling
   * nothing, when no helper can take it (compute it in place then).
   */
  run(kind, bytes, { expectedMs, sliceFlops, rows = null }, { onProgress = () => {}, onDone, onLost }) {
    this.cancel(kind);
    if (!this.start()) return false;
    const worker = this.worker;
    if (rows && this.dataSent !== rows.id) {
      const data = rows.bytes();
      worker.postMessage({ evaluationData: rows.id, bytes: data }, [data.buffer]);
      this.dataSent = rows.id;
    }
    const job = this.nextJob++;
    const timer = setTimeout(() => this.failed(worker, 'it did not answer in time'), GRACE_MS + 20 * expectedMs);
    this.current.set(kind, { job, timer, onProgress, onDone, onLost });
    if (this.crashPending) worker.postMessage({ crash: true });
    this.crashPending = false;
    const message = kind === 'ais' ? { ais: job } : { evaluation: job, dataId: rows.id };
    worker.postMessage({ ...message, bytes, sliceFlops }, [bytes.buffer]);
    return true;
  }

  /** Drops the job of `kind` under way (every kind without one): its answer is ignored. */
  cancel(kind = null) {
    for (const [k, entry] of this.current) {
      if (kind !== null && k !== kind) continue;
      clearTimeout(entry.timer);
      this.worker?.postMessage({ cancel: entry.job });
      this.current.delete(k);
    }
  }

  answered(worker, { job, progress, bytes, error }) {
    if (worker !== this.worker) return;
    const found = [...this.current].find(([, e]) => e.job === job);
    if (!found) return; // cancelled
    const [kind, entry] = found;
    if (error) {
      this.failed(worker, error);
      return;
    }
    if (bytes === undefined) {
      entry.onProgress(progress);
      return;
    }
    clearTimeout(entry.timer);
    this.current.delete(kind);
    this.failures = 0;
    entry.onDone(bytes);
  }

  /** Stops the helper; its jobs are reported lost. */
  failed(worker, why) {
    if (worker !== this.worker) return;
    worker.terminate();
    this.worker = null;
    this.dataSent = null;
    this.failures += 1;
    if (this.failures >= MAX_FAILURES) this.unavailable = `the background helper failed ${this.failures} times in a row; the last: ${why}`;
    const lost = [...this.current.values()];
    this.current.clear();
    for (const entry of lost) {
      clearTimeout(entry.timer);
      try {
        entry.onLost(why);
      } catch (error) {
        // Every job still hears of the loss; the error is reported on its own.
        queueMicrotask(() => { throw error; });
      }
    }
  }

  /** Stops the helper for good: its jobs are reported lost, and all later work stays in place. */
  disable(why) {
    this.unavailable = why;
    if (this.worker) this.failed(this.worker, why);
  }

  /** Has the helper crash on its next job, started or not yet (page tests of the recovery). */
  crashNext() {
    this.crashPending = true;
  }
}
