// What limits the dense kernel in the browser: hand-written wasm loops timed in turns in
// headless Chromium beside the engine's own peaks and dense product. Run by `./lab bench`
// (or alone: `node scripts/bench-loop-shapes.mjs`, after the wasm build).
//
// Each loop is the inner step of linalg's 4 x 8 tile (`tile_sums`: 8 sums, two f32x4 of
// B and four values of A a step; 6 x 8 where a row says so) with everything in the
// first level of cache, so only the step itself is timed. The variants change how A's
// values arrive:
// - `broadcast`: four `v128.load32_splat`, as the engine's kernel does;
// - `plain loads`: four `v128.load` (no broadcast, the same number of loads);
// - `in registers`: loaded once before the loop (two loads a step, B's);
// - `one from memory`: row 0's broadcast loaded each step, rows 1 to 3 held in
//   registers (three loads a step, as many live vectors as `in registers`);
// - `addresses by i32.add`: the kernel's loads, each address an `i32.add` of the step's
//   base and a constant rather than the load's own offset. That is how LLVM writes the
//   engine's kernel, and V8 then computes each address with an instruction of its own
//   (`lea`, then the load; `perf record` of Chromium with `--js-flags=--perf-prof`);
// - `row by row` (6 x 8 tiles): each row's broadcast loaded into one local just before
//   its two multiply-adds, as the fast build's fused kernel does (`FUSED_TILE_ROWS`):
//   12 sums, 2 vectors of B and 1 broadcast live.
// The peak by hand is the faster of the engine's `simdPeak` loops written by hand: 6
// multiply and 6 add chains, their operands in locals; and the tile step with A in
// registers (its second loop, `products_rate`). On the AMD EPYC with AVX-512 of
// 2026-11-29 the chains ran at three quarters of the step's rate.
import binaryen from 'binaryen';
import { benchBrowser } from './bench-chromium.mjs';

const VECTORS = 2;

function tileLoop(name, aMode, fused, ROWS = 4) {
  const lines = [`(func $${name} (export "${name}") (param $n i32) (result f32)`, '(local $i i32) (local $p i32)'];
  for (let r = 0; r < ROWS; r++) lines.push(`(local $a${r} v128)`);
  for (let v = 0; v < VECTORS; v++) lines.push(`(local $b${v} v128)`);
  for (let k = 0; k < ROWS * VECTORS; k++) lines.push(`(local $c${k} v128)`);
  if (aMode === 'registers' || aMode === 'one from memory') {
    for (let r = 0; r < ROWS; r++) lines.push(`(local.set $a${r} (v128.load32_splat offset=${8192 + 4 * r} (i32.const 0)))`);
  }
  lines.push('(loop $step');
  // Steps walk 4 KB of B and of A, as a panel's rows would, and wrap.
  lines.push('(local.set $p (i32.and (i32.shl (local.get $i) (i32.const 5)) (i32.const 4064)))');
  for (let v = 0; v < VECTORS; v++) lines.push(aMode === 'broadcast add' ? `(local.set $b${v} (v128.load (i32.add (local.get $p) (i32.const ${16 * v}))))` : `(local.set $b${v} (v128.load offset=${16 * v} (local.get $p)))`);
  for (let r = 0; r < ROWS; r++) {
    if (aMode === 'broadcast') lines.push(`(local.set $a${r} (v128.load32_splat offset=${8192 + 4 * r} (local.get $p)))`);
    if (aMode === 'broadcast add') lines.push(`(local.set $a${r} (v128.load32_splat (i32.add (local.get $p) (i32.const ${8192 + 4 * r}))))`);
    if (aMode === 'plain loads') lines.push(`(local.set $a${r} (v128.load offset=${8192 + 16 * r} (local.get $p)))`);
    if (aMode === 'one from memory' && r === 0) lines.push('(local.set $a0 (v128.load32_splat offset=8192 (local.get $p)))');
  }
  for (let r = 0; r < ROWS; r++) {
    // `row by row`: each row's broadcast loaded just before its row's multiply-adds, into
    // one local, as the fast build's 6 x 8 kernel does (one broadcast live at a time).
    if (aMode === 'row by row') lines.push(`(local.set $a0 (v128.load32_splat offset=${8192 + 4 * r} (local.get $p)))`);
    const a = aMode === 'row by row' ? '$a0' : `$a${r}`;
    for (let v = 0; v < VECTORS; v++) {
      const c = `$c${r * VECTORS + v}`;
      lines.push(fused
        ? `(local.set ${c} (f32x4.relaxed_madd (local.get ${a}) (local.get $b${v}) (local.get ${c})))`
        : `(local.set ${c} (f32x4.add (local.get ${c}) (f32x4.mul (local.get ${a}) (local.get $b${v}))))`);
    }
  }
  lines.push('(br_if $step (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))');
  lines.push(`(f32x4.extract_lane 0 ${sumOf(ROWS * VECTORS)}))`);
  return { wat: lines.join('\n'), flops: ROWS * VECTORS * 8 };
}

function peakLoop(name, fused) {
  const chains = 12;
  const lines = [`(func $${name} (export "${name}") (param $n i32) (result f32)`, '(local $i i32) (local $s v128) (local $d v128)'];
  for (let k = 0; k < chains; k++) lines.push(`(local $c${k} v128)`);
  lines.push('(local.set $s (f32x4.splat (f32.const 0.999999))) (local.set $d (f32x4.splat (f32.const 0.000001)))');
  for (let k = 0; k < chains; k++) lines.push(`(local.set $c${k} (f32x4.splat (f32.const ${1 + k})))`);
  lines.push('(loop $step');
  for (let k = 0; k < chains; k++) {
    if (fused) lines.push(`(local.set $c${k} (f32x4.relaxed_madd (local.get $c${k}) (local.get $s) (local.get $d)))`);
    else if (k < chains / 2) lines.push(`(local.set $c${k} (f32x4.mul (local.get $c${k}) (local.get $s)))`);
    else lines.push(`(local.set $c${k} (f32x4.add (local.get $c${k}) (local.get $d)))`);
  }
  lines.push('(br_if $step (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))');
  lines.push(`(f32x4.extract_lane 0 ${sumOf(chains)}))`);
  return { wat: lines.join('\n'), flops: chains * 4 * (fused ? 2 : 1) };
}

function sumOf(count) {
  let expr = '(local.get $c0)';
  for (let k = 1; k < count; k++) expr = `(f32x4.add ${expr} (local.get $c${k}))`;
  return expr;
}

const loops = {
  'peak by hand: 6 multiply and 6 add chains': peakLoop('peak', false),
  'tile step: 4 broadcasts of A, 2 loads of B (the kernel, offsets in the loads)': tileLoop('broadcast', 'broadcast', false),
  'the same, addresses by i32.add (as LLVM writes the kernel)': tileLoop('adds', 'broadcast add', false),
  'tile step, A by plain loads (no broadcasts)': tileLoop('plain', 'plain loads', false),
  'tile step, A in registers': tileLoop('registers', 'registers', false),
  'tile step, row 0 broadcast from memory, rows 1 to 3 in registers': tileLoop('one', 'one from memory', false),
  'fused peak by hand: 12 chains': peakLoop('fusedPeak', true),
  'fused 4 x 8 tile step (offsets in the loads)': tileLoop('fusedBroadcast', 'broadcast', true),
  'fused 4 x 8 tile step, A in registers': tileLoop('fusedRegisters', 'registers', true),
  'the same fused, addresses by i32.add (as LLVM writes it)': tileLoop('fusedAdds', 'broadcast add', true),
  "fused 6 x 8 tile step, row by row (the fast kernel)": tileLoop('fused68', 'row by row', true, 6),
  'the 6 x 8 step, plain multiplies and adds (the deterministic kernel keeps 4 x 8)': tileLoop('plain68', 'row by row', false, 6),
};
const module = binaryen.parseText(`(module (memory (export "memory") 1)\n${Object.values(loops).map((l) => l.wat).join('\n')})`);
module.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128 | binaryen.Features.RelaxedSIMD);
if (!module.validate()) throw new Error('the hand-written loops do not validate');
const bytes = Array.from(module.emitBinary());
const names = Object.fromEntries(Object.entries(loops).map(([label, l]) => [label, /\$(\w+)/.exec(l.wat)[1]]));
const flops = Object.fromEntries(Object.entries(loops).map(([label, l]) => [label, l.flops]));

const { browser, origin, close } = await benchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const medians = await page.evaluate(async ({ bytes, names, flops }) => {
    const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes));
    const data = new Float32Array(instance.exports.memory.buffer);
    for (let i = 0; i < data.length; i++) data[i] = 1e-3 * (i % 7);
    const deterministic = await import('/www/pkg/rbm_lab.js');
    await deterministic.default();
    const fast = await import('/www/pkg/fast/rbm_lab.js');
    await fast.default();
    const train = deterministic.Dataset.fromPacked(new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer()), 'train');
    const model = new deterministic.Trainer({ n_hidden: 500, batch_size: 100, seed: 1 }, train).model();
    const probabilities = new Float32Array(100 * 784).map((_, i) => 0.05 + 0.9 * ((i * 0.754877) % 1));
    const iterations = 2e7;
    const timedRate = (run, flopsPerIteration) => {
      const start = performance.now();
      run(iterations);
      return (iterations * flopsPerIteration) / ((performance.now() - start) * 1e6);
    };
    const work = {
      ...Object.fromEntries(Object.entries(names).map(([label, name]) =>
        [label, () => timedRate(instance.exports[name], flops[label])])),
      "the engine's simdPeak": () => deterministic.simdPeak(iterations),
      "the engine's relaxedPeak": () => fast.relaxedPeak(iterations),
      "the engine's dense product inside wasm (v W + c, 100 x 784 by 784 x 500)": () => model.denseProductRate(probabilities, 20),
      "the same as p(h | v) from JS (sigmoids, copies at the boundary)": () => {
        const start = performance.now();
        for (let i = 0; i < 20; i++) model.probHiddenGivenVisible(probabilities, 1);
        return (20 * 2 * 100 * 784 * 500) / ((performance.now() - start) * 1e6);
      },
    };
    // A first call of each tiers it up; then five rounds, each timing every loop once.
    for (const run of Object.values(work)) run();
    const rates = Object.fromEntries(Object.keys(work).map((label) => [label, []]));
    for (let round = 0; round < 5; round++) {
      for (const [label, run] of Object.entries(work)) rates[label].push(run());
    }
    return Object.fromEntries(Object.entries(rates).map(([label, values]) => {
      values.sort((a, b) => a - b);
      return [label, { median: values[2], low: values[0], high: values[4] }];
    }));
  }, { bytes, names, flops });
  const peak = Math.max(medians['peak by hand: 6 multiply and 6 add chains'].median,
    medians['tile step, A in registers'].median);
  const fusedPeak = medians['fused peak by hand: 12 chains'].median;
  console.log('| loop (Chromium, medians of 5 in turns) | GFLOP/s | share of the peak by hand (the faster of its two loops) |');
  console.log('|---|---:|---:|');
  for (const [label, { median, low, high }] of Object.entries(medians)) {
    const fused = /fused|relaxed/i.test(label);
    const share = `${Math.round((100 * median) / (fused ? fusedPeak : peak))} %${fused ? ' of the fused one' : ''}`;
    console.log(`| ${label} | ${median.toFixed(1)} (${low.toFixed(1)} to ${high.toFixed(1)}) | ${share} |`);
  }
} finally {
  await close();
}
