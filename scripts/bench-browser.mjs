// The engine's figures inside headless Chromium (the real wasm build): the same three
// as benches/engine.rs on one worker, the simd128 peak, and updates split over workers. Run by `./lab bench`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { benchBrowser } from './bench-chromium.mjs';
import { tfjsCd1 } from './bench-tfjs.mjs';

const { browser, origin, close } = await benchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  // The same figures for each build: deterministic (www/pkg) and fast maths
  // (www/pkg/fast, relaxed SIMD), each module instantiated on its own in this page, in
  // turns (round r times each build's CD-1 and Gibbs, then the next round), so that a
  // machine that slows down meanwhile slows both.
  const [figures, fast] = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const timed = (work) => {
      const t = performance.now();
      work();
      return performance.now() - t;
    };
    const builds = [];
    for (const path of ['/www/pkg/rbm_lab.js', '/www/pkg/fast/rbm_lab.js']) {
      const engine = await import(path);
      await engine.default();
      const train = engine.Dataset.fromPacked(bytes, 'train');
      const trainer = new engine.Trainer({ n_hidden: 500, algorithm: 'cd', k: 1, learning_rate: 0.05,
        momentum: 0.5, weight_decay: 1e-4, batch_size: 100, seed: 1 }, train);
      // Warmed up long enough for V8 to tier the hot functions up.
      trainer.steps(20);
      const model = trainer.model();
      const chains = new engine.Chains(model, 100, 2);
      chains.step(20, 1);
      const small = new engine.Trainer({ n_hidden: 20, batch_size: 100, seed: 1 }, train).model();
      // The dense kernel: 100 rows of probabilities (not 0/1, so no zeros are skipped),
      // 2 m n flops a row, timed inside the engine (denseProductRate: v W + c) and from
      // JS as p(h | v) (its sigmoids and the copies at the boundary in its time too).
      const probabilities = new Float32Array(100 * 784).map((_, i) => 0.05 + 0.9 * ((i * 0.754877) % 1));
      model.probHiddenGivenVisible(probabilities, 1);
      engine.simdPeak(1e6);
      engine.relaxedPeak?.(1e6);
      model.denseProductRate(probabilities, 1);
      builds.push({ engine, trainer, model, chains, small, probabilities,
        runs: { cd: [], gibbs: [], logZ: [], peak: [], dense: [], product: [], relaxedPeak: [] } });
    }
    // Training and chains first, then the kernels and peaks, then log Z: a long run of
    // one kind of work (fused multiply-adds for seconds, say) does not precede the other
    // build's training figures.
    for (let r = 0; r < 5; r++) {
      for (const { trainer, chains, runs } of builds) {
        runs.cd.push(20000 / timed(() => trainer.steps(20)));
        runs.gibbs.push(20000 / timed(() => chains.step(20, 1)));
      }
    }
    for (let r = 0; r < 5; r++) {
      for (const { engine, model, probabilities, runs } of builds) {
        runs.dense.push((20 * 2 * 100 * 784 * 500)
          / (timed(() => { for (let i = 0; i < 20; i++) model.probHiddenGivenVisible(probabilities, 1); }) * 1e6));
        // The same product inside the engine: no sigmoids, no copies at the boundary.
        runs.product.push(model.denseProductRate(probabilities, 20));
        // The simd128 multiply-add peak and the products' share of it.
        runs.peak.push(engine.simdPeak(2e7));
        // The fast build's own peak: relaxed-SIMD fused multiply-adds.
        if (engine.relaxedPeak) runs.relaxedPeak.push(engine.relaxedPeak(2e7));
      }
    }
    for (let r = 0; r < 3; r++) {
      for (const { small, runs } of builds) {
        runs.logZ.push(timed(() => {
          if (!Number.isFinite(small.logPartition(1))) throw new Error('log Z is not finite');
        }) / 1000);
      }
    }
    return builds.map(({ engine, runs }) => ({
      ...Object.fromEntries(Object.entries(runs).map(([key, values]) => [key, values.length ? median(values) : null])),
      maths: engine.engineMaths(),
    }));
  });
  if (figures.maths !== 'deterministic' || fast.maths !== 'fast') throw new Error(`the builds' maths: ${figures.maths}, ${fast.maths}`);
  // Workers: the engine's worker and helpers (www/helpers.js, www/helper.js) as the page runs them;
  // the same updates with one worker and with two, in turns (below).
  const workers = await page.evaluate(async () => {
    const engine = await import('/www/pkg/rbm_lab.js');
    const { memory } = await engine.default();
    const { HelperPool, shardTasks } = await import('/www/helpers.js');
    const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
    const train = engine.Dataset.fromPacked(bytes, 'train');
    const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    // A trainer on `count` workers: `block(updates)` times that many updates (updates/s).
    function setup(config, count) {
      const trainer = new engine.Trainer({ n_hidden: 500, algorithm: 'cd', learning_rate: 0.05, momentum: 0.5,
        weight_decay: 1e-4, seed: 1, ...config }, train);
      trainer.setWorkers(count);
      // The page's own pool (www/helpers.js), used as the lab's worker uses it: its
      // buffers and messages, answers read as they arrive, a lost shard computed here.
      let left = 0;
      let allIn = () => {};
      const arrived = () => {
        if (--left === 0) allIn();
      };
      const pool = new HelperPool((bytes) => {
        trainer.acceptShard(bytes);
        arrived();
      }, (shard) => {
        trainer.computeShard(shard);
        arrived();
      });
      pool.resize(trainer.workersInUse - 1);
      // Where a split update's time goes, summed over the timed updates: writing the
      // helpers' tasks, the engine's own shard, waiting for the helpers after it (their
      // answers read as they come), and making the update.
      const phases = { tasks: 0, own: 0, wait: 0, finish: 0 };
      let timed = 0;
      const update = async () => {
        const t0 = performance.now();
        trainer.beginUpdate();
        const requests = shardTasks(trainer, memory);
        const answers = new Promise((resolve) => {
          allIn = resolve;
        });
        left = requests.length;
        if (left === 0) allIn();
        pool.dispatch(requests, 1000);
        const t1 = performance.now();
        if (trainer.trainFor(60000, 1).updates > 0) return;
        const t2 = performance.now();
        await answers;
        const t3 = performance.now();
        trainer.trainFor(60000, 1);
        const t4 = performance.now();
        phases.tasks += t1 - t0;
        phases.own += t2 - t1;
        phases.wait += t3 - t2;
        phases.finish += t4 - t3;
        timed += 1;
      };
      return {
        used: trainer.workersInUse,
        async block(updates) {
          const t = performance.now();
          for (let i = 0; i < updates; i++) await update();
          return (updates * 1000) / (performance.now() - t);
        },
        phases() {
          return Object.fromEntries(Object.entries(phases).map(([key, ms]) => [key, ms / Math.max(1, timed)]));
        },
        resetPhases() {
          for (const key of Object.keys(phases)) phases[key] = 0;
          timed = 0;
        },
        free() {
          pool.resize(0);
          trainer.free();
        },
      };
    }
    const cases = [
      ['CD-1, batch 100', { k: 1, batch_size: 100 }, 40],
      ['CD-1, batch 500', { k: 1, batch_size: 500 }, 10],
      ['CD-10, batch 100', { k: 10, batch_size: 100 }, 10],
    ];
    // One worker and two in turns, 7 rounds of a block each after 30 updates each (long
    // enough for V8 to tier the helpers' wasm up: after 5 updates a helper still took
    // twice the time of the same shard in the page), so that a machine that slows down
    // for a while slows both: each round's ratio, their median and range.
    const out = [];
    for (const [name, config, updates] of cases) {
      const one = setup(config, 1);
      const two = setup(config, 2);
      await one.block(30);
      await two.block(30);
      two.resetPhases();
      const rounds = [];
      for (let r = 0; r < 7; r++) {
        const oneRate = await one.block(updates);
        const twoRate = await two.block(updates);
        rounds.push({ one: oneRate, two: twoRate, ratio: twoRate / oneRate });
      }
      out.push({
        name,
        one: median(rounds.map((r) => r.one)),
        two: median(rounds.map((r) => r.two)),
        ratio: median(rounds.map((r) => r.ratio)),
        ratios: rounds.map((r) => r.ratio).sort((a, b) => a - b),
        used: two.used,
        phases: two.phases(),
      });
      one.free();
      two.free();
    }
    // Exact log Z at 784 x 20 in one worker (one call) and shared with a helper as the
    // lab's worker shares it (helpers.js' SharedLogPartition: a piece here between
    // reading the helper's answers), in turns, 5 rounds after 2 to warm the helper up.
    const { SharedLogPartition } = await import('/www/helpers.js');
    const smallTrainer = new engine.Trainer({ n_hidden: 20, batch_size: 100, seed: 1 }, train);
    const small = smallTrainer.model();
    smallTrainer.free();
    const pool = new HelperPool(() => {}, () => {});
    pool.resize(1);
    const soon = new MessageChannel();
    const answersRead = () => new Promise((resolve) => {
      soon.port1.onmessage = resolve;
      soon.port2.postMessage(null);
    });
    const shared = async () => {
      const job = small.logPartitionJob(1);
      let wake = () => {};
      const sharing = new SharedLogPartition(job, pool, { pieceMs: job.pieceFlops / 1e7, onChange: () => wake() });
      while (!sharing.done) {
        if (sharing.canStep) {
          sharing.step();
          await answersRead();
        } else {
          await new Promise((resolve) => { wake = resolve; });
        }
      }
      const value = sharing.value;
      job.free();
      return value;
    };
    const logZ = { one: [], two: [] };
    for (let r = 0; r < 7; r++) {
      let t = performance.now();
      const alone = small.logPartition(1);
      const one = performance.now() - t;
      t = performance.now();
      const together = await shared();
      const two = performance.now() - t;
      if (alone !== together) throw new Error(`log Z shared with a helper: ${together}, alone: ${alone}`);
      if (r >= 2) {
        logZ.one.push(one / 1000);
        logZ.two.push(two / 1000);
      }
    }
    pool.resize(0);
    small.free();
    return { cases: out, logZ: { one: median(logZ.one), two: median(logZ.two), spread: [Math.min(...logZ.two), Math.max(...logZ.two)] } };
  });
  // TensorFlow.js doing the same CD-1 in the same browser (see bench-tfjs.mjs).
  const root = new URL('..', import.meta.url).pathname;
  const tfWasm = await tfjsCd1(browser, root, 'wasm');
  const tfCpu = await tfjsCd1(browser, root, 'cpu', { updates: 3, blocks: 3 });
  // The page itself: from navigation to the first chains' picture on screen (the samples
  // canvas takes its size with the first frame), each time in a fresh context (no cache).
  // The check runs at once and then in each animation frame, and gives the time it first
  // sees the picture: in the frame that paints it (at that frame's end) or at most one
  // frame later. Reading the clock in a later call, as this did until 2026-11-29, added
  // the page's queued messages: 60 to 100 ms in that day's loads.
  const firstSample = [];
  for (let r = 0; r < 5; r++) {
    const context = await browser.newContext();
    const fresh = await context.newPage();
    await fresh.goto(`${origin}/#seed=1`);
    const seen = await fresh.waitForFunction(() => document.getElementById('samples').width > 10 && performance.now(),
      null, { timeout: 30000, polling: 'raf' });
    firstSample.push(await seen.jsonValue());
    await context.close();
  }
  firstSample.sort((a, b) => a - b);
  // The page training at its defaults (784 x 100, PCD-1, batch 100), as a visitor sees
  // it: the status line's samples/s from 2 to 10 s after Train, with the learning
  // curves' work (AIS estimates, the curves' points) on the background helper and, in
  // turns, in the lab's worker (the fallback), twice each.
  const pageRates = { helper: [], inPlace: [] };
  for (const mode of ['helper', 'inPlace', 'helper', 'inPlace']) {
    const context = await browser.newContext();
    const lab = await context.newPage();
    await lab.goto(`${origin}/#seed=1`);
    await lab.waitForFunction(() => /^Ready/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
    if (mode === 'inPlace') await lab.evaluate(() => window.rbmLab.injectFault('no-background-helper'));
    await lab.click('#train');
    await lab.waitForTimeout(2000);
    for (let r = 0; r < 4; r++) {
      await lab.waitForTimeout(2000);
      const status = await lab.textContent('#status');
      pageRates[mode].push(Number(/([\d,]+) samples\/s/.exec(status)[1].replace(/,/g, '')));
    }
    await context.close();
  }
  for (const rates of Object.values(pageRates)) rates.sort((a, b) => a - b);
  const row = (name, value) => console.log(`| ${name.padEnd(41)} | ${value.padEnd(15)} |`);
  row('engine (Chromium, wasm simd128)', 'figure');
  console.log(`|${'-'.repeat(43)}|${'-'.repeat(17)}|`);
  row('CD-1 784x500, batch 100: updates/s', `${figures.cd.toFixed(1)} (${Math.round(figures.cd * 100)} samples/s)`);
  row('Gibbs 784x500, 100 chains: steps/s', figures.gibbs.toFixed(1));
  row('exact log Z, 784x20 (2^20 states): s', figures.logZ.toFixed(2));
  row('simd128 multiply-add peak: GFLOP/s', figures.peak.toFixed(1));
  row('dense product, 100x784 by 784x500: GFLOP/s', `${figures.product.toFixed(1)} (${Math.round((100 * figures.product) / figures.peak)} % of peak)`);
  row('  the same as p(h | v) from JS (sigmoids, copies): GFLOP/s', `${figures.dense.toFixed(1)} (${Math.round((100 * figures.dense) / figures.peak)} % of peak)`);
  // CD-1 counted as 10 m n flops per example (the measure): five dense
  // products. Each has a 0/1 operand whose zeros the engine skips, so this can pass
  // the peak: it is the rate a dense kernel would need to keep up.
  const cdFlops = (figures.cd * 10 * 784 * 500 * 100) / 1e9;
  row('CD-1 as 10 m n flops/example: GFLOP/s', `${cdFlops.toFixed(1)} (${Math.round((100 * cdFlops) / figures.peak)} % of peak)`);
  const gibbsFlops = (figures.gibbs * 4 * 784 * 500 * 100) / 1e9;
  row('Gibbs as 4 m n flops/chain: GFLOP/s', `${gibbsFlops.toFixed(1)} (${Math.round((100 * gibbsFlops) / figures.peak)} % of peak)`);
  for (const [name, tf] of [['TF.js 4.22 wasm backend (SIMD, 1 thread)', tfWasm], ['TF.js 4.22 CPU backend (JavaScript)', tfCpu]]) {
    row(`${name}: CD-1 updates/s`, `${tf.rate.toFixed(1)} (${tf.low.toFixed(1)} to ${tf.high.toFixed(1)}; engine ${(figures.cd / tf.rate).toFixed(1)}x)`);
  }
  row('fast maths (relaxed SIMD): CD-1 updates/s', `${fast.cd.toFixed(1)} (${(fast.cd / figures.cd).toFixed(2)}x deterministic; ${(fast.cd / tfWasm.rate).toFixed(1)}x TF.js wasm)`);
  row('fast maths: Gibbs steps/s', `${fast.gibbs.toFixed(1)} (${(fast.gibbs / figures.gibbs).toFixed(2)}x deterministic)`);
  row('relaxed-SIMD fused multiply-add peak: GFLOP/s', `${fast.relaxedPeak.toFixed(1)} (${(fast.relaxedPeak / figures.peak).toFixed(2)}x the simd128 peak)`);
  row('fast maths: dense product: GFLOP/s', `${fast.product.toFixed(1)} (${Math.round((100 * fast.product) / fast.relaxedPeak)} % of its peak; ${(fast.product / figures.product).toFixed(2)}x deterministic)`);
  row('  the same as p(h | v) from JS: GFLOP/s', `${fast.dense.toFixed(1)} (${Math.round((100 * fast.dense) / fast.relaxedPeak)} % of its peak)`);
  const fastCdFlops = (fast.cd * 10 * 784 * 500 * 100) / 1e9;
  row('fast maths: CD-1 as 10 m n flops/example', `${fastCdFlops.toFixed(1)} GFLOP/s (${Math.round((100 * fastCdFlops) / fast.relaxedPeak)} % of its peak)`);
  row('exact log Z, 784x20, 1 and 2 workers: s', `${workers.logZ.one.toFixed(2)}, ${workers.logZ.two.toFixed(2)} `
    + `(${workers.logZ.spread[0].toFixed(2)} to ${workers.logZ.spread[1].toFixed(2)}; ${(workers.logZ.one / workers.logZ.two).toFixed(2)}x)`);
  for (const w of workers.cases) {
    row(`${w.name}: updates/s, 1 and 2 workers in turns`,
      `${w.one.toFixed(1)}, ${w.two.toFixed(1)} (${w.ratio.toFixed(2)}x, ${w.ratios[0].toFixed(2)}x to `
      + `${w.ratios[w.ratios.length - 1].toFixed(2)}x; ${w.used} used)`);
    if (w.used > 1) {
      const p = w.phases;
      row(`  its split update, ms: tasks, own shard, wait, finish (one worker: ${(1000 / w.one).toFixed(1)})`,
        `${p.tasks.toFixed(2)}, ${p.own.toFixed(2)}, ${p.wait.toFixed(2)}, ${p.finish.toFixed(2)}`);
    }
  }
  const pageRow = (rates) => `${rates[4].toLocaleString('en')} (${rates[0].toLocaleString('en')} to ${rates[7].toLocaleString('en')})`;
  row('the page training at its defaults: samples/s', `${pageRow(pageRates.helper)}, ${(pageRates.helper[4] / pageRates.inPlace[4]).toFixed(2)}x in place`);
  row('  the same, the curves\' work in the lab\'s worker', pageRow(pageRates.inPlace));
  row('page load to first sample on screen: ms', `${Math.round(firstSample[2])} (${Math.round(firstSample[0])} to ${Math.round(firstSample[4])})`);
  // Each of the engine's modules (src/wasm/mod.rs), gzipped at level 9 as dist.mjs counts.
  for (const name of ['rbm_lab', 'helper', 'files', 'critic', 'guide', 'fast/rbm_lab', 'fast/helper']) {
    const wasm = readFileSync(join(root, `www/pkg/${name}_bg.wasm`));
    const gzipped = gzipSync(wasm, { level: 9 }).length;
    row(`${name}_bg.wasm: bytes (gzipped)`, `${wasm.length.toLocaleString('en')} (${(gzipped / 1000).toFixed(1)} KB)`);
  }
} finally {
  await close();
}
