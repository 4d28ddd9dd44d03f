// Which build of the engine runs: 'deterministic' (simd128 multiplies and adds, the same
// bits in every browser and natively, the default) or 'fast' (the build with relaxed
// SIMD, www/pkg/fast/: dense products with fused multiply-adds where the processor has
// them, so the bits may differ between machines). The lab's worker and its helpers
// read it from their own URL (`?maths=fast`), so they always run the same build.

/**
 * A module of one function that returns f32x4.relaxed_madd of three constants: it
 * validates only where the browser has relaxed SIMD.
 */
const RELAXED_MADD = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // v128.const 0, three times
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b, // end
]);

/** Whether this browser runs relaxed SIMD (the fast build needs it). */
export function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_MADD);
  } catch {
    return false;
  }
}

/** The maths a worker was started for: 'fast' or 'deterministic'. */
export function mathsOf(url) {
  return new URL(url).searchParams.get('maths') === 'fast' ? 'fast' : 'deterministic';
}

/**
 * The build this worker runs: the one its URL asks for, except that fast maths falls
 * back to the deterministic build where the browser has no relaxed SIMD.
 */
export function runningMaths() {
  if (fellBack) return 'deterministic';
  return mathsOf(self.location.href) === 'fast' && hasRelaxedSimd() ? 'fast' : 'deterministic';
}

let fellBack = false;
/** The fast build did not load: this worker and the helpers it starts run deterministic maths. */
export function fallBackToDeterministic() {
  fellBack = true;
  return 'deterministic';
}

// Written out, so that the list of site files (scripts/site-files.mjs) and its test
// see every module this file may load.
const MODULES = {
  deterministic: {
    rbm_lab: new URL('./pkg/rbm_lab.js', import.meta.url),
    helper: new URL('./pkg/helper.js', import.meta.url),
  },
  fast: {
    rbm_lab: new URL('./pkg/fast/rbm_lab.js', import.meta.url),
    helper: new URL('./pkg/fast/helper.js', import.meta.url),
  },
};

/** The URL of the engine's `rbm_lab` or `helper` module (src/wasm/mod.rs) in the build for `maths`. */
export function modulePath(name, maths) {
  return MODULES[maths === 'fast' ? 'fast' : 'deterministic'][name].href;
}
