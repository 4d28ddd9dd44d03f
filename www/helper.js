// A helper worker: computes shards of split updates for the engine's worker
// (src/shard.rs). It keeps no state between jobs: each message brings a shard's task
// with the model's parameters and gets back the shard's result, so a helper that dies
// is replaced, or its shard computed elsewhere, without changing a bit of the run.
// In: {job, bytes} (or {crash: true} from the page tests: fail the next job). Out: {job, bytes} or
// {job, error}. Bytes are transferred both ways, and the answer goes back in the task's
// own buffer when it fits: a new 2 MB buffer costs twenty times the copy into a used one.
import init, { runShard, shardResultPtr } from './pkg/helper.js';

const ready = init();
// A failed load is reported with the next job (as an error answer), not as an
// unhandled rejection.
ready.catch(() => {});
let crashOnNextJob = false;

onmessage = async ({ data }) => {
  const { job } = data ?? {};
  if (data?.crash) {
    crashOnNextJob = true;
    return;
  }
  try {
    await ready;
    if (crashOnNextJob) {
      // An uncaught error and no answer, as a real fault would give: the pool must
      // notice it and have the shard computed elsewhere.
      setTimeout(() => { throw new Error('helper crashed on purpose (page test)'); });
      return;
    }
    const { memory } = await ready;
    const len = runShard(data.bytes);
    const result = new Uint8Array(memory.buffer, shardResultPtr(), len);
    const buffer = data.bytes.buffer.byteLength >= len ? data.bytes.buffer : new ArrayBuffer(len);
    const bytes = new Uint8Array(buffer, 0, len);
    bytes.set(result);
    postMessage({ job, bytes }, [buffer]);
  } catch (error) {
    postMessage({ job, error: String(error?.message ?? error) });
  }
};
