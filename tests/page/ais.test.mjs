// AIS on the page (issue 11): on MNIST with 100 hidden units (784 x 100, far beyond
// exact enumeration) the likelihood chart shows AIS estimates of the training and
// held-out log-likelihood with ±3σ error bars, computed in slices while training runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, waitForStatus, setValue, downloaded } from './helpers.mjs';

test('a 784 x 100 model gets AIS log-likelihood points with error bars, in the background', async () => {
  await withLab({ hash: '#seed=2&aisruns=20&aistemps=300' }, async ({ page }) => {
    await page.click('#train');
    await page.waitForFunction(() => /AIS at step \d+/.test(document.getElementById('ais-note').textContent), null, { timeout: 120000 });
    // Training went on while AIS ran (it is sliced), and Pause still answers.
    await page.click('#train');
    await waitForStatus(page, ['Paused', 'Training paused']);
    const note = await page.textContent('#ais-note');
    const match = /log Z = ([\d.]+) ± ([\d.]+) \(standard error, 20 runs, 300 temperatures\); log-likelihood (-[\d.]+) training, (-[\d.]+) held out nats/.exec(note);
    assert.ok(match, note);
    const [, logZ, error, train, heldOut] = match.map(Number);
    assert.ok(logZ > 0 && error > 0 && error < 2, note);
    // An RBM on binarised MNIST sits between the independent-pixel model (about -206
    // nats on this split) and the best published RBMs (about -86): a wrong sign or a
    // wrong log Z lands outside.
    for (const v of [train, heldOut]) assert.ok(v > -230 && v < -80, note);
    const legend = await page.$$eval('#chart-likelihood .u-legend .u-series', (rows) => rows.filter((r) => !r.hidden).map((r) => r.textContent.trim()));
    for (const label of ['AIS log-likelihood, training', 'AIS log-likelihood, held out', 'AIS held out, −3σ', 'AIS held out, +3σ']) {
      assert.ok(legend.includes(label), legend.join(' | '));
    }
    // The error bars bracket the held-out estimate at every AIS point of the exported curves.
    const { bytes: curves } = await downloaded(page, '#export-curves');
    const at = {};
    for (const line of curves.toString('utf8').trim().split('\n').slice(1)) {
      const [, curve, step, value] = /^"([^"]+)",(\d+),(.+)$/.exec(line);
      (at[step] ??= {})[curve] = Number(value);
    }
    const points = Object.values(at).filter((p) => 'AIS log-likelihood, held out' in p);
    assert.ok(points.length >= 1);
    for (const p of points) {
      assert.ok(p['AIS held out, −3σ'] < p['AIS log-likelihood, held out'] && p['AIS log-likelihood, held out'] < p['AIS held out, +3σ'], JSON.stringify(p));
    }
    assert.equal(await page.$eval('#exact-note', (n) => /AIS estimates it instead/.test(n.textContent)), true);
  });
});

test('parallel tempering trains from the address and reports its exchange acceptance rates', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4&algo=tempering&temps=5&betamin=0.3&k=2&epochs=100000' }, async ({ page }) => {
    assert.equal(await page.inputValue('#algorithm'), 'tempering');
    assert.equal(await page.isVisible('#temperatures'), true);
    assert.equal(await page.inputValue('#temperatures'), '5');
    await page.click('#train');
    await page.waitForFunction(() => /exchanges accepted (\d+ %, ){3}\d+ % \(coldest pair first\)/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
    const rates = /exchanges accepted ([^(]+)/.exec(await page.textContent('#status'))[1].split(',').map((r) => Number.parseInt(r, 10));
    assert.equal(rates.length, 4);
    for (const r of rates) assert.ok(r > 0 && r <= 100, `${rates}`);
    await page.waitForFunction(() => Number(document.getElementById('chart-likelihood').dataset.points) > 5);
    await page.click('#train');
    await waitForStatus(page, ['Paused', 'Training paused']);
    assert.match(page.url(), /algo=tempering/);
    assert.match(page.url(), /temps=5/);
    assert.match(page.url(), /betamin=0.3/);
    // A lowest β of 1 or more is refused by name, with its range.
    await page.fill('#beta_min', '1');
    await page.press('#beta_min', 'Tab');
    await waitForStatus(page, ['Error']);
    assert.match(await page.textContent('#message'), /Lowest β.*below 1/);
  });
});

test('the preset "Best at 20 hidden units" sets centring and a decaying rate in one click, and they train', async () => {
  await withLab({ hash: '#seed=1' }, async ({ page }) => {
    await page.click('#presets button:has-text("Best at 20 hidden units")');
    await page.waitForFunction(() => /hidden=20/.test(location.hash) && /centre=on/.test(location.hash) && /decay=10/.test(location.hash));
    await waitForStatus(page, ['Ready']);
    assert.equal(await page.inputValue('#centring'), 'on');
    assert.equal(await page.inputValue('#final_learning_rate'), '0.001');
    assert.equal(await page.isVisible('#final_learning_rate'), true);
    assert.equal(await page.isVisible('#sparsity_target'), false, 'the sparsity target shows only with a sparsity cost');
    await page.click('#train');
    await page.waitForFunction(() => Number(document.getElementById('chart-likelihood').dataset.points) > 3, null, { timeout: 60000 });
    await page.click('#train');
    await waitForStatus(page, ['Paused', 'Training paused']);
    // The page enumerates up to 14 hidden units on MNIST; at 20 AIS estimates the curves.
    await page.waitForFunction(() => /AIS at step \d+/.test(document.getElementById('ais-note').textContent), null, { timeout: 60000 });
    assert.match(page.url(), /lr=0.1(&|$)/);
    // A sparsity cost shows its target field; both go into the address.
    await page.fill('#sparsity_cost', '0.2');
    await page.press('#sparsity_cost', 'Tab');
    await page.waitForFunction(() => /sparsecost=0.2/.test(location.hash));
    assert.equal(await page.isVisible('#sparsity_target'), true);
  });
});

test('AIS and the curves\' points run on a background helper; when it dies they are computed in place, to the same numbers', async () => {
  // A one-epoch run (90 updates) ends with an estimate for its last model: the same
  // seed gives the same text, and the same exported curves, whichever worker computed
  // them.
  const hash = '#seed=3&aisruns=20&aistemps=200&epochs=1';
  const finalEstimate = async (crash) => {
    let result;
    await withLab({ hash }, async ({ page }) => {
      await waitForStatus(page, ['Ready']);
      if (crash) await page.evaluate(() => window.rbmLab.injectFault('background-helper'));
      const notes = [];
      await page.exposeFunction('recordNote', (text) => notes.push(text));
      await page.evaluate(() => new MutationObserver(() => window.recordNote(document.getElementById('message').textContent))
        .observe(document.getElementById('message'), { childList: true, characterData: true, subtree: true }));
      await page.click('#train');
      await page.waitForFunction(() => /AIS at step 90:/.test(document.getElementById('ais-note').textContent), null, { timeout: 120000 });
      const { bytes: curves } = await downloaded(page, '#export-curves');
      // The helpers running now (a helper that died is gone from the list).
      const helpers = page.workers().filter((worker) => /\/helper\.js/.test(worker.url())).length;
      result = { note: await page.textContent('#ais-note'), curves: curves.toString('utf8'), helpers, notes };
    });
    return result;
  };
  const healthy = await finalEstimate(false);
  const crashed = await finalEstimate(true);
  // At the defaults an update is not split, so the one helper is the background helper.
  assert.equal(healthy.helpers, 1, 'one background helper, kept');
  assert.equal(crashed.helpers, 1, 'the dead helper was replaced');
  assert.ok(crashed.notes.some((n) => /The background helper worker failed .*computed here instead/.test(n)), crashed.notes.join(' | '));
  assert.ok(!healthy.notes.some((n) => /background helper/.test(n)), healthy.notes.join(' | '));
  assert.equal(crashed.note, healthy.note);
  // The curves' points of the last model are the same too (earlier ones fall at steps
  // set by timing, so only the last step's rows are compared).
  const lastRows = (csv) => csv.trim().split('\n').filter((line) => /^"[^"]+",90,/.test(line)).sort();
  assert.ok(lastRows(healthy.curves).length >= 3, healthy.curves.slice(0, 400));
  assert.deepEqual(lastRows(crashed.curves), lastRows(healthy.curves));
});

test('a training setting changed while the background helper computes for the old trainer drops that work, with no error', async () => {
  // A long AIS estimate (3,000 temperatures) is on the helper when the learning rate
  // changes: the new trainer must not receive the old one's answer (it once crashed
  // the engine), and training and the curves go on.
  await withLab({ hash: '#seed=2&aisruns=20&aistemps=3000' }, async ({ page, problems }) => {
    await page.click('#train');
    await page.waitForFunction(() => /Estimating log Z by AIS: [1-9]/.test(document.getElementById('ais-progress').textContent), null, { timeout: 60000 });
    for (const rate of ['0.02', '0.015', '0.01']) {
      await setValue(page, 'learning_rate', rate);
      await page.waitForTimeout(300);
    }
    const before = Number(await page.$eval('#chart-likelihood', (c) => c.dataset.points));
    await page.waitForFunction((n) => Number(document.getElementById('chart-likelihood').dataset.points) > n + 3, before, { timeout: 60000 });
    await page.waitForFunction(() => /AIS at step \d+/.test(document.getElementById('ais-note').textContent), null, { timeout: 120000 });
    const status = await page.textContent('#status');
    assert.match(status, /^(Training|Run complete)/, status);
    assert.doesNotMatch(await page.textContent('#message'), /stopped|error|failed/i);
    assert.deepEqual(problems, []);
  });
});
