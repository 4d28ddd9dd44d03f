// A helper worker. Two kinds of job, each from the engine's worker:
// - a shard of a split update (src/shard.rs). It keeps no state between shards: each
//   message brings a shard's task with the model's parameters and gets back the shard's
//   result, so a helper that dies is replaced, or its shard computed elsewhere, without
//   changing a bit of the run. In: {job, bytes}. Out: {job, bytes} or {job, error}.
//   Bytes are transferred both ways, and the answer goes back in the task's own buffer
//   when it fits: a new 2 MB buffer costs twenty times the copy into a used one.
// - an AIS estimate of log Z (src/ais.rs), on a helper of its own, so the estimate
//   takes the other core instead of training's time. In: {ais: job, bytes, sliceFlops}
//   or {cancelAis: job}. Out: {job, progress} after each slice, then {job, bytes} (the
//   estimate) or {job, error}. It works in slices, so a cancel or a newer task is read
//   between two.
// Also {crash: true} from the page tests: fail the next job of either kind.
import init, { AisRun, runShard, shardResultPtr } from './pkg/helper.js';

const ready = init();
// A failed load is reported with the next job (as an error answer), not as an
// unhandled rejection.
ready.catch(() => {});
let crashOnNextJob = false;

/** The AIS estimate under way: {job, run, sliceFlops}. */
let ais = null;
// The next slice "at once": a message to itself (setTimeout(f, 0) is clamped to 4 ms
// once nested), which lets a cancel that came meanwhile be read first.
const soon = new MessageChannel();
soon.port1.onmessage = () => aisSlice();

function crash() {
  // An uncaught error and no answer, as a real fault would give: the engine's worker
  // must notice it and do the work itself.
  setTimeout(() => { throw new Error('helper crashed on purpose (page test)'); });
}

function dropAis() {
  ais?.run.free();
  ais = null;
}

function aisSlice() {
  if (!ais) return;
  const { job, run } = ais;
  try {
    if (run.advance(ais.sliceFlops)) {
      const bytes = run.result();
      dropAis();
      postMessage({ job, bytes }, [bytes.buffer]);
      return;
    }
    postMessage({ job, progress: run.progress });
  } catch (error) {
    dropAis();
    postMessage({ job, error: String(error?.message ?? error) });
    return;
  }
  soon.port2.postMessage(null);
}

onmessage = async ({ data }) => {
  const { job } = data ?? {};
  if (data?.crash) {
    crashOnNextJob = true;
    return;
  }
  if (data?.cancelAis !== undefined) {
    if (ais?.job === data.cancelAis) dropAis();
    return;
  }
  const answerJob = data?.ais ?? job;
  try {
    const { memory } = await ready;
    if (crashOnNextJob) {
      crash();
      return;
    }
    if (data.ais !== undefined) {
      dropAis();
      ais = { job: data.ais, run: new AisRun(data.bytes), sliceFlops: data.sliceFlops };
      aisSlice();
      return;
    }
    const len = runShard(data.bytes);
    const result = new Uint8Array(memory.buffer, shardResultPtr(), len);
    const buffer = data.bytes.buffer.byteLength >= len ? data.bytes.buffer : new ArrayBuffer(len);
    const bytes = new Uint8Array(buffer, 0, len);
    bytes.set(result);
    postMessage({ job, bytes }, [buffer]);
  } catch (error) {
    postMessage({ job: answerJob, error: String(error?.message ?? error) });
  }
};
