// A helper worker. Two kinds of work, each from the engine's worker:
// - a shard of a split update (src/shard.rs). It keeps no state between shards: each
//   message brings a shard's task with the model's parameters and gets back the shard's
//   result, so a helper that dies is replaced, or its shard computed elsewhere, without
//   changing a bit of the run. In: {job, bytes}. Out: {job, bytes} or {job, error}.
//   Bytes are transferred both ways, and the answer goes back in the task's own buffer
//   when it fits: a new 2 MB buffer costs twenty times the copy into a used one.
// - the learning curves' background work, on a helper of its own (helpers.js'
//   BackgroundHelper), so that it takes the other core instead of training's time: AIS
//   estimates of log Z (src/ais.rs) and the curves' points (src/monitor.rs). In:
//   {ais: job, bytes, sliceFlops}; {evaluation: job, bytes, dataId, sliceFlops} on the
//   rows last sent as {evaluationData: dataId, bytes}; {cancel: job}. Out: {job,
//   progress} after each slice of an estimate, then {job, bytes} (the estimate, or a
//   point's sums) or {job, error}. A point goes before an estimate, slice by slice,
//   and a cancel or a newer task is read between two slices.
// - pieces of an exact log Z (src/exact.rs' LogPartitionJob), from any worker that
//   holds a HelperPool: {logPartition: job, bytes} in, {job, bytes} or {job, error} out.
// Also {crash: true} from the page tests: fail the next job of any kind.
import { mathsOf, modulePath } from './maths.js';

// The helper module (src/wasm/mod.rs) in the lab's own build (maths.js): the worker
// that started this helper passed its maths on, so a split update's shards are summed
// as the engine's own shard is. Resolves to {memory, engine}.
const ready = import(modulePath('helper', mathsOf(self.location.href)))
  .then(async (engine) => ({ memory: (await engine.default()).memory, engine }));
// A failed load is reported with the next job (as an error answer), not as an
// unhandled rejection.
ready.catch(() => {});
let crashOnNextJob = false;

/** Background jobs under way, in turn: {job, run, sliceFlops, data?}. */
let background = [];
/** The rows evaluations read: {id, data}. */
let evaluationData = null;
let sliceQueued = false;
// The next slice "at once": a message to itself (setTimeout(f, 0) is clamped to 4 ms
// once nested), which lets a cancel that came meanwhile be read first.
const soon = new MessageChannel();
soon.port1.onmessage = () => {
  sliceQueued = false;
  backgroundSlice();
};

function queueSlice() {
  if (sliceQueued || background.length === 0) return;
  sliceQueued = true;
  soon.port2.postMessage(null);
}

function crash() {
  // An uncaught error and no answer, as a real fault would give: the engine's worker
  // must notice it and do the work itself.
  setTimeout(() => { throw new Error('helper crashed on purpose (page test)'); });
}

function drop(job) {
  const entry = background.find((e) => e.job === job);
  if (!entry) return;
  entry.run.free();
  background = background.filter((e) => e !== entry);
}

/**
 * One slice of a job: a curve point's first (training waits for it when the next is
 * due; an AIS estimate does not hold anything up), else the first in line, which then
 * goes to the back of the line.
 */
function backgroundSlice() {
  const at = Math.max(0, background.findIndex((e) => e.data));
  const [entry] = background.splice(at, 1);
  if (!entry) return;
  const { job, run } = entry;
  try {
    const done = entry.data ? run.advance(entry.data, entry.sliceFlops) : run.advance(entry.sliceFlops);
    if (done) {
      const bytes = entry.data ? run.sums() : run.result();
      run.free();
      postMessage({ job, bytes }, [bytes.buffer]);
    } else {
      background.push(entry);
      if (!entry.data) postMessage({ job, progress: run.progress });
    }
  } catch (error) {
    run.free();
    postMessage({ job, error: String(error?.message ?? error) });
  }
  queueSlice();
}

onmessage = async ({ data }) => {
  if (data?.crash) {
    crashOnNextJob = true;
    return;
  }
  if (data?.cancel !== undefined) {
    drop(data.cancel);
    return;
  }
  const job = data?.ais ?? data?.evaluation ?? data?.logPartition ?? data?.job;
  try {
    const { memory, engine } = await ready;
    if (data.evaluationData !== undefined) {
      // Evaluations still on the old rows end (their engine has moved on).
      for (const entry of background.filter((e) => e.data)) {
        drop(entry.job);
        postMessage({ job: entry.job, error: 'its rows were replaced' });
      }
      evaluationData?.data.free();
      evaluationData = null;
      evaluationData = { id: data.evaluationData, data: new engine.EvaluationData(data.bytes) };
      return;
    }
    if (crashOnNextJob) {
      crash();
      return;
    }
    if (data.ais !== undefined) {
      background.push({ job, run: new engine.AisRun(data.bytes), sliceFlops: data.sliceFlops });
      queueSlice();
      return;
    }
    if (data.evaluation !== undefined) {
      if (evaluationData?.id !== data.dataId) throw new Error(`the rows of evaluation data ${data.dataId} were not received`);
      const rows = evaluationData.data;
      background.push({ job, run: new engine.EvaluationRun(data.bytes, rows), sliceFlops: data.sliceFlops, data: rows });
      queueSlice();
      return;
    }
    if (data.logPartition !== undefined) {
      const bytes = engine.logPartitionTask(data.bytes);
      postMessage({ job, bytes }, [bytes.buffer]);
      return;
    }
    const len = engine.runShard(data.bytes);
    const result = new Uint8Array(memory.buffer, engine.shardResultPtr(), len);
    const buffer = data.bytes.buffer.byteLength >= len ? data.bytes.buffer : new ArrayBuffer(len);
    const bytes = new Uint8Array(buffer, 0, len);
    bytes.set(result);
    postMessage({ job, bytes }, [buffer]);
  } catch (error) {
    // (Rows that could not be read: the evaluation that needs them answers with the error.)
    if (job !== undefined) postMessage({ job, error: String(error?.message ?? error) });
  }
};
