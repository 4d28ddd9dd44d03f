// The engine worker's helpers: one module worker per extra core, each computing shards
// of split updates (www/helper.js, src/shard.rs). The pool hands shards out, passes
// answers back, and notices a helper that fails (an error event, an error answer, or
// no answer in time): the helper is replaced and its shard is reported lost, so the
// engine computes it itself. Answers to work that was cancelled are dropped.

/** A helper that has not answered in this long (plus 20 times the expected time) is presumed dead. */
const GRACE_MS = 5000;

export class HelperPool {
  /**
   * `onAnswer(bytes)` gets each answer; `onLost(shard, why)` each shard a helper failed
   * to compute.
   */
  constructor(onAnswer, onLost) {
    this.onAnswer = onAnswer;
    this.onLost = onLost;
    this.helpers = [];
    this.nextJob = 1;
    /** job -> {helper, shard, timer} */
    this.jobs = new Map();
    this.replaced = 0;
  }

  get size() {
    return this.helpers.length;
  }

  /** Keeps `count` helpers (0 for none). */
  resize(count) {
    while (this.helpers.length > count) this.retire(this.helpers.pop());
    while (this.helpers.length < count) this.helpers.push(this.spawn());
  }

  spawn() {
    const worker = new Worker(new URL('./helper.js', import.meta.url), { type: 'module' });
    const helper = { worker };
    worker.onmessage = ({ data }) => this.answered(helper, data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.failed(helper, event.message || 'the helper stopped with an error');
    };
    worker.onmessageerror = () => this.failed(helper, 'an answer could not be read');
    return helper;
  }

  retire(helper) {
    helper.worker.terminate();
    for (const [job, entry] of this.jobs) {
      if (entry.helper === helper) {
        clearTimeout(entry.timer);
        this.jobs.delete(job);
        this.onLost(entry.shard, 'its helper was stopped');
      }
    }
  }

  /** Hands `requests` ([{shard, bytes}]) out, shard s to helper (s - 1) mod size. */
  dispatch(requests, expectedMs) {
    for (const { shard, bytes } of requests) {
      if (this.helpers.length === 0) {
        this.onLost(shard, 'no helper is running');
        continue;
      }
      const helper = this.helpers[(shard - 1) % this.helpers.length];
      const job = this.nextJob++;
      const timer = setTimeout(() => this.failed(helper, 'it did not answer in time'), GRACE_MS + 20 * expectedMs);
      this.jobs.set(job, { helper, shard, timer });
      helper.worker.postMessage({ job, bytes }, [bytes.buffer]);
    }
  }

  /** Drops every job under way: their answers will be ignored. */
  cancel() {
    for (const entry of this.jobs.values()) clearTimeout(entry.timer);
    this.jobs.clear();
  }

  answered(helper, { job, bytes, error }) {
    const entry = this.jobs.get(job);
    if (!entry) return; // cancelled, or already given up on
    clearTimeout(entry.timer);
    this.jobs.delete(job);
    if (error) {
      this.failed(helper, error, entry.shard);
      return;
    }
    this.onAnswer(bytes);
  }

  /** Replaces `helper` and reports its shards lost (`alsoShard`: one already taken off the list). */
  failed(helper, why, alsoShard = null) {
    const at = this.helpers.indexOf(helper);
    if (at < 0) return;
    this.replaced += 1;
    const lost = [];
    if (alsoShard !== null) lost.push(alsoShard);
    for (const [job, entry] of this.jobs) {
      if (entry.helper === helper) {
        clearTimeout(entry.timer);
        this.jobs.delete(job);
        lost.push(entry.shard);
      }
    }
    helper.worker.terminate();
    this.helpers[at] = this.spawn();
    for (const shard of lost) this.onLost(shard, why);
  }

  /** Asks every helper to crash on its next job (page tests of the recovery). */
  crashNext() {
    for (const helper of this.helpers) helper.worker.postMessage({ crash: true });
  }
}
