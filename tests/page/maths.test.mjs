// The Maths setting in Debian's Chromium: fast maths runs the relaxed-SIMD build
// (www/pkg/fast) in the lab's worker and in its helpers, and switching back starts the
// deterministic build, and a fast build that does not load falls back to it. (A browser
// without relaxed SIMD: tests/firefox/smoke.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForStatus, withLab, saveModel } from './helpers.mjs';

// CD-1 at batch 1000 over two workers (split, as in workers.test.mjs): 9 updates.
const HASH = '#data=mnist&hidden=100&algo=cd&k=1&lr=0.05&mom=0.5&wd=0.0001&batch=1000&epochs=1&seed=5&workers=2';

async function trainToTheEnd(page, maths) {
  await page.click('#train');
  await page.waitForFunction((wanted) => new RegExp(wanted).test(document.getElementById('status').textContent),
    maths === 'fast' ? 'on 2 workers with fast maths' : 'on 2 workers(?! with fast)', { timeout: 30000 });
  await waitForStatus(page, ['Run complete'], 60000);
  return JSON.parse((await saveModel(page)).text);
}

const wasmLoaded = (requests) => requests.filter((path) => path.endsWith('.wasm'));

test('fast maths runs the relaxed-SIMD build in the worker and its helpers; switching back runs the deterministic one', async () => {
  await withLab({ hash: `${HASH}&maths=fast` }, async ({ page, requests }) => {
    assert.equal(await page.inputValue('#maths'), 'fast');
    const fast = await trainToTheEnd(page, 'fast');
    const loaded = wasmLoaded(requests);
    assert.ok(loaded.includes('/www/pkg/fast/rbm_lab_bg.wasm'), loaded.join(', '));
    assert.ok(loaded.includes('/www/pkg/fast/helper_bg.wasm'), `the helpers run the fast build too: ${loaded.join(', ')}`);
    assert.ok(!loaded.includes('/www/pkg/rbm_lab_bg.wasm') && !loaded.includes('/www/pkg/helper_bg.wasm'), loaded.join(', '));
    assert.equal(fast.training.steps_done, 9);

    // Back to deterministic: a new engine, the model built afresh from the same seed.
    requests.length = 0;
    await page.selectOption('#maths', 'deterministic');
    await waitForStatus(page, ['Ready']);
    assert.match(await page.evaluate(() => location.hash), /maths=deterministic/);
    // The fast run was kept before its engine went, and is offered back.
    await page.waitForFunction(() => !document.getElementById('saved-run').hidden, null, { timeout: 10000 });
    assert.match(await page.textContent('#saved-run-text'), /step 9 · fast maths/);
    const deterministic = await trainToTheEnd(page, 'deterministic');
    const switched = wasmLoaded(requests);
    assert.ok(switched.includes('/www/pkg/rbm_lab_bg.wasm') && switched.includes('/www/pkg/helper_bg.wasm'), switched.join(', '));
    assert.ok(!switched.some((path) => path.startsWith('/www/pkg/fast/')), switched.join(', '));
    // Every product of CD-1 on binary data has a 0/1 left operand, which both builds
    // sum by rows without multiplying (src/linalg.rs, Ones): fast maths cannot change
    // these bits. (Its fused products are checked against the deterministic ones
    // within rounding by tests/web.rs in the fast build.)
    assert.equal(deterministic.training.steps_done, 9);
    assert.deepEqual(fast.weights, deterministic.weights);
    assert.deepEqual(fast.hidden_bias, deterministic.hidden_bias);
  });
});

// The two builds as served, side by side in one page: the same model's p(h | v) for rows
// of probabilities (not 0/1, so the products take the dense kernels). Two orders of
// summation of k + 1 terms, with or without fused multiply-adds, each differ from the
// exact sum by at most (k + 1) u Σ|terms| (u = 2^-24, plus one rounding per product);
// the sigmoid's slope is at most 1/4, and each build rounds its sigmoid to within 2 u.
// So each element may differ by at most (1/4) 2 (k + 2) u (Σ_i |v_i w_ij| + |c_j|) + 4 u.
// A wrong stride or a stray tile would be off by a whole term; and some element must
// differ, or the fast build fused nothing.
test('the fast build\'s dense products stay within rounding of the deterministic build\'s', async () => {
  await withLab({ hash: '#seed=1' }, async ({ page }) => {
    const result = await page.evaluate(async () => {
      const deterministic = await import('/www/pkg/rbm_lab.js');
      await deterministic.default();
      const fast = await import('/www/pkg/fast/rbm_lab.js');
      await fast.default();
      if (deterministic.engineMaths() !== 'deterministic' || fast.engineMaths() !== 'fast') throw new Error('wrong builds');
      const value = (i) => ((i * 0.7548777) % 1) * 2 - 1;
      // A trained 784 x 500 model at 100 rows, and a random one with ragged tiles:
      // 29 rows (7 tiles of 4 and 1; the fused kernel's 4 tiles of 6 and 5) by 37 hidden
      // units (4 panels of 8 and 5).
      const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
      const trainer = new deterministic.Trainer({ n_hidden: 500, batch_size: 100, seed: 1 }, deterministic.Dataset.fromPacked(bytes, 'train'));
      trainer.steps(20);
      const trained = trainer.model().parts();
      const random = { nVisible: 784, nHidden: 37, weights: Float32Array.from({ length: 784 * 37 }, (_, i) => value(i) * 0.2),
        visibleBias: new Float32Array(784), hiddenBias: Float32Array.from({ length: 37 }, (_, j) => value(j + 5)) };
      const cases = [];
      for (const [parts, rows] of [[trained, 100], [random, 29]]) {
        const { nVisible: m, nHidden: n, weights, hiddenBias } = parts;
        const visible = Float32Array.from({ length: rows * m }, (_, i) => 0.05 + 0.9 * ((i * 0.754877) % 1));
        const exact = deterministic.Rbm.fromParts(parts).probHiddenGivenVisible(visible, 1);
        const fused = fast.Rbm.fromParts(parts).probHiddenGivenVisible(visible, 1);
        let worst = 0;
        let differing = 0;
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < n; j++) {
            let magnitude = Math.abs(hiddenBias[j]);
            for (let i = 0; i < m; i++) magnitude += Math.abs(visible[r * m + i] * weights[i * n + j]);
            const u = 2 ** -24;
            const bound = 0.25 * 2 * (m + 2) * u * magnitude + 4 * u;
            const gap = Math.abs(exact[r * n + j] - fused[r * n + j]);
            if (gap > 0) differing += 1;
            worst = Math.max(worst, gap / bound);
          }
        }
        cases.push({ shape: `${rows} x ${m} by ${m} x ${n}`, worst, differing, elements: rows * n });
      }
      return cases;
    });
    for (const { shape, worst, differing, elements } of result) {
      assert.ok(worst <= 1, `${shape}: an element is ${worst.toFixed(2)} times its rounding bound away`);
      assert.ok(differing > 0, `${shape}: all ${elements} elements equal: nothing was fused`);
    }
  });
});

test('a fast build that does not load falls back to the deterministic one, says so, and trains', async () => {
  await withLab({ hash: '#seed=1' }, async ({ context, openPage, problems, requests }) => {
    // A site published without www/pkg/fast, or a network that drops it.
    await context.route(/\/www\/pkg\/fast\//, (route) => route.abort());
    requests.length = 0;
    const page = await openPage('#seed=2&maths=fast');
    await waitForStatus(page, ['Ready']);
    assert.match(await page.textContent('#notice-text'), /The fast maths build did not load .*: the lab runs its deterministic maths/);
    assert.equal(await page.inputValue('#maths'), 'deterministic');
    await page.click('#train');
    await page.waitForFunction(() => /samples\/s/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
    assert.doesNotMatch(await page.textContent('#status'), /fast maths/);
    assert.ok(requests.includes('/www/pkg/rbm_lab_bg.wasm'), requests.filter((path) => path.endsWith('.wasm')).join(', '));
    // The aborted requests are this test's doing, not the page's.
    for (let i = problems.length - 1; i >= 0; i--) if (/pkg\/fast|net::ERR_FAILED|Failed to load/.test(problems[i])) problems.splice(i, 1);
  });
});
