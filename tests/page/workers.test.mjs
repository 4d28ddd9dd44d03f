// The workers setting in Debian's Chromium: an update split over two workers (this
// worker and a helper, www/helpers.js) gives the same bits as the same split computed
// in one worker, a helper that dies is replaced without changing a bit, and the
// native command line with --workers gives the page's bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForStatus, withLab, saveModel } from './helpers.mjs';

// CD-1 at batch 1000: 5,000 rows through the weights per update, enough to be split
// (src/shard.rs, worthwhile); 9 updates make the one epoch.
const HASH = '#data=mnist&hidden=100&algo=cd&k=1&lr=0.05&mom=0.5&wd=0.0001&batch=1000&epochs=1&seed=5&workers=2';

const saveModelJson = async (page) => JSON.parse((await saveModel(page)).text);

async function trainToTheEnd(page, { crashHelper = false } = {}) {
  await waitForStatus(page, ['Ready']);
  if (crashHelper) {
    await page.evaluate(() => {
      // Every message the page shows, however soon a later one replaces it.
      const line = document.getElementById('message');
      window.shownMessages = [];
      new MutationObserver(() => window.shownMessages.push(line.textContent))
        .observe(line, { childList: true, characterData: true, subtree: true });
      window.rbmLab.injectFault('helper');
    });
  }
  await page.click('#train');
  await page.waitForFunction(() => /on 2 workers/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
  await waitForStatus(page, ['Run complete'], 60000);
  return saveModelJson(page);
}

const stepsAndWeights = (model) => [model.training.steps_done, model.weights.slice(0, 50), model.hidden_bias];

test('two workers give the same bits with helpers, in one worker, after a helper dies, and natively', async () => {
  let helped;
  await withLab({ hash: HASH }, async ({ page }) => {
    helped = await trainToTheEnd(page);
  });
  assert.equal(helped.training.steps_done, 9);
  let recovered;
  await withLab({ hash: HASH }, async ({ page }) => {
    recovered = await trainToTheEnd(page, { crashHelper: true });
    const shown = await page.evaluate(() => window.shownMessages.join(' | '));
    assert.match(shown, /A helper worker failed \(.*\); it was replaced/);
  });
  assert.deepEqual(stepsAndWeights(recovered), stepsAndWeights(helped), 'a dead helper changed the run');
  assert.deepEqual(recovered.weights, helped.weights);
  // Step computes every shard in this worker.
  let local;
  await withLab({ hash: HASH }, async ({ page }) => {
    await waitForStatus(page, ['Ready']);
    for (let n = 1; n <= 9; n++) {
      await page.click('#step');
      await page.waitForFunction((s) => new RegExp(`step ${s}\\b`).test(document.getElementById('status').textContent), n);
    }
    local = await saveModelJson(page);
  });
  assert.deepEqual(local.weights, helped.weights, 'helpers and one worker disagree');
  // The command line, with the browser's kernel and --workers 2 (./lab test names the
  // build it tested in RBM_LAB_BIN).
  const dir = await mkdtemp(join(tmpdir(), 'rbm-workers-'));
  const out = join(dir, 'model.json');
  execFileSync(process.env.RBM_LAB_BIN || 'target/release/rbm-lab', ['--portable', 'train', '--data', 'mnist', '--hidden', '100', '--algorithm', 'cd',
    '--k', '1', '--lr', '0.05', '--momentum', '0.5', '--weight-decay', '0.0001', '--batch', '1000',
    '--epochs', '1', '--seed', '5', '--workers', '2', '--out', out]);
  const native = JSON.parse(await readFile(out, 'utf8'));
  assert.deepEqual(native.weights, helped.weights, 'the command line with --workers 2 differs from the page');
});

test('a split run autosaves while it trains', async () => {
  // CD-10 at 784 x 500 splits over two workers; the run saves about every 5 s.
  await withLab({ hash: '#data=mnist&hidden=500&algo=cd&k=10&batch=100&epochs=50&seed=3&workers=2' }, async ({ page }) => {
    await waitForStatus(page, ['Ready']);
    await page.click('#train');
    await page.waitForFunction(() => /on 2 workers/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
    await page.waitForFunction(() => /Saved in this browser/.test(document.getElementById('autosave-status').textContent),
      null, { timeout: 30000 });
    assert.match(await page.textContent('#status'), /^Training\./);
  });
});
