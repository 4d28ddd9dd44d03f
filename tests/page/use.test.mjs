// The "use the model" panel in Debian's Chromium: draw, complete half a digit (the
// known half stays as it was), clean a noisy digit, place a drawing among the data;
// its settings travel in the address; bad masks are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, setValue, waitForStatus, canvasSignature } from './helpers.mjs';

/** The tiles of a canvas drawn by render.js (a 1 px gap around each), as 0/1 pixels. */
function readTiles(page, id, rows, cols) {
  return page.$eval(`#${id}`, (canvas, [r, c]) => {
    const { data, width } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const count = Math.round((width - 1) / (c + 1));
    return Array.from({ length: count }, (_, t) => Array.from({ length: r * c }, (__, p) => {
      const x = 1 + t * (c + 1) + (p % c);
      const y = 1 + Math.floor(p / c);
      return data[(y * width + x) * 4];
    }));
  }, [rows, cols]);
}

async function trainABit(page, steps = 200) {
  await page.click('#train');
  await page.waitForFunction((n) => Number(/step (\d+)/.exec(document.getElementById('status').textContent)?.[1]) >= n, steps, { timeout: 60000 });
  await page.click('#train');
  await waitForStatus(page, ['Paused', 'Training paused']);
}

test('half a digit is completed, the known half untouched; a noisy one cleaned; a drawing placed', async () => {
  await withLab({ hash: '#seed=1' }, async (lab) => {
    const { page } = lab;
    await trainABit(page);
    await page.click('#use-take');
    await page.waitForFunction(() => /^Held-out picture 1/.test(document.getElementById('use-source').textContent));
    await setValue(page, 'use-completion_steps', '60');
    await page.click('#use-complete');
    await page.waitForFunction(() => /^Step 60 of 60: .*unknown pixels right \([\d.]+ %\)\.$/.test(document.getElementById('use-complete-result').textContent), null, { timeout: 30000 });
    // Tiles: 8 chains, their average, the original. The bottom half (known) of every
    // chain equals the original's; the top half was filled in.
    const tiles = await readTiles(page, 'use-completions', 28, 28);
    assert.equal(tiles.length, 10);
    const original = tiles[9];
    for (const chain of tiles.slice(0, 8)) {
      for (let p = 14 * 28; p < 28 * 28; p++) assert.equal(chain[p], original[p], `pixel ${p}`);
    }
    assert.ok(tiles.slice(0, 8).some((chain) => chain.slice(0, 14 * 28).some((v) => v > 128)), 'nothing was filled in');
    // Denoising: the error shown falls.
    await page.click('#use-denoise');
    await page.waitForFunction(() => /% after\.$/.test(document.getElementById('use-denoise-result').textContent));
    const [before, after] = (/([\d.]+) % of pixels wrong before, ([\d.]+) % after/.exec(await page.textContent('#use-denoise-result'))).slice(1).map(Number);
    assert.ok(Math.abs(before - 10) < 0.2, `${before} % flipped`);
    assert.ok(after < before, `${before} % -> ${after} %`);
    // Scoring: a percentile among the training pictures; log Z unknown at 100 hidden units.
    await page.click('#use-score');
    await page.waitForFunction(() => /more likely than \d+ % of the first 1000 training pictures/.test(document.getElementById('use-score-result').textContent));
    assert.match(await page.textContent('#use-score-result'), /log Z is unknown here \(it would need all 2\^100 states/);
    await page.$eval('#use-panel', (panel) => panel.scrollIntoView());
    await lab.screenshot('use-panel');
  });
});

test('half a digit drawn with the mouse is completed by mean-field and by Gibbs, and can be stopped', async () => {
  await withLab({ hash: '#seed=1' }, async (lab) => {
    const { page } = lab;
    await trainABit(page);
    // Draw the top half of a "1": a vertical stroke down the middle of the upper half.
    const pad = await page.$('#use-pad');
    await pad.scrollIntoViewIfNeeded();
    const box = await pad.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.1);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.45, { steps: 10 });
    await page.mouse.up();
    await page.selectOption('#use-hide_part', 'bottom');
    await page.selectOption('#use-completion_method', 'meanfield');
    await page.click('#use-complete');
    await page.waitForFunction(() => /^Mean-field \(50 updates\): the estimate \(392 unknown pixels\)\.$/.test(document.getElementById('use-complete-result').textContent));
    const drawn = (await readTiles(page, 'use-completions', 28, 28))[0];
    assert.ok(drawn.slice(0, 14 * 28).filter((v) => v > 128).length >= 10, 'the drawn half is not in the estimate');
    // Gibbs, with 5,000 steps: stopped part-way.
    await page.selectOption('#use-completion_method', 'gibbs');
    await setValue(page, 'use-completion_steps', '5000');
    await page.click('#use-complete');
    await page.waitForFunction(() => document.getElementById('use-complete').textContent === 'Stop');
    await page.waitForFunction(() => /^Step \d+ of 5000/.test(document.getElementById('use-complete-result').textContent));
    await page.click('#use-complete');
    await page.waitForFunction(() => /^Stopped after \d+ steps/.test(document.getElementById('use-complete-result').textContent));
    assert.equal(await page.textContent('#use-complete'), 'Complete');
    // Every chain keeps the drawn upper half.
    const tiles = await readTiles(page, 'use-completions', 28, 28);
    for (const chain of tiles.slice(0, 8)) assert.deepEqual(chain.slice(0, 14 * 28), tiles[0].slice(0, 14 * 28));
  });
});

test('a picture on a 784 x 20 model gets its exact log p(v), log Z shared with a helper, kept while the model stays, the same with the helper crashing', async () => {
  // Two pages on the same run (seed 1, three Steps): one healthy, one whose helper
  // crashes on its first task.
  const runs = [];
  for (const crash of [false, true]) {
    await withLab({ hash: '#seed=1&hidden=20&workers=2' }, async (lab) => {
      const { page } = lab;
      for (let k = 1; k <= 3; k++) {
        await page.click('#step');
        await page.waitForFunction((n) => new RegExp(`step ${n}\\b`).test(document.getElementById('status').textContent), k);
      }
      await page.click('#use-take');
      await page.waitForFunction(() => /^Held-out picture 1/.test(document.getElementById('use-source').textContent));
      const score = async (done) => {
        // (The last result is wiped first, so that only the new one can match.)
        await page.$eval('#use-score-result', (e) => { e.textContent = ''; });
        await page.click('#use-score');
        // 2^20 states of the hidden layer in 64 pieces: a second or two here.
        await page.waitForFunction((pattern) => new RegExp(`log p\\(v\\) = -?[\\d.]+ nats \\(F = .*; ${pattern}`).test(document.getElementById('use-score-result').textContent),
          done.source, { timeout: 60000 });
        return {
          text: await page.textContent('#use-score-result'),
          logZ: await page.$eval('#use-score-result', (e) => e.dataset.logPartition),
        };
      };
      if (crash) await page.evaluate(() => window.rbmLab.injectFault('helper'));
      const first = await score(/exact, [\d.]+ s/);
      runs.push(first);
      if (crash) {
        // Every piece computed in the worker, none on the helper.
        assert.doesNotMatch(first.text, /on helpers/);
        return;
      }
      const [logP, free, logZ] = /log p\(v\) = (-?[\d.]+) nats \(F = (-?[\d.]+), log Z = (-?[\d.]+)/.exec(first.text).slice(1).map(Number);
      // The sentence's numbers agree (each rounded to 0.1) and p(v) is a probability.
      assert.ok(Math.abs(logP - (-free - logZ)) <= 0.15 && logP < 0, first.text);
      assert.equal(Number(first.logZ).toFixed(1), logZ.toFixed(1));
      const helped = Number(/(\d+) of its 64 pieces on helpers/.exec(first.text)?.[1]);
      assert.ok(helped > 0 && helped < 64, `helpers took ${helped} pieces: ${first.text}`);
      // The same model again: the same log Z, kept from the first score.
      const kept = await score(/exact, worked out for an earlier score of this model/);
      assert.equal(kept.logZ, first.logZ);
      // One more update: another model, worked out again.
      await page.click('#step');
      await page.waitForFunction(() => /step 4\b/.test(document.getElementById('status').textContent));
      const next = await score(/exact, [\d.]+ s/);
      assert.notEqual(next.logZ, first.logZ);
    });
  }
  assert.equal(runs[1].logZ, runs[0].logZ, 'log Z with the helper crashing differs from the healthy run');
});

test('the pad draws with the mouse and the keyboard; log p(v) when log Z is known', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    await trainABit(page, 300);
    const pad = await page.$('#use-pad');
    await pad.scrollIntoViewIfNeeded();
    const box = await pad.boundingBox();
    const blank = await canvasSignature(page, '#use-pad');
    // A stroke along the top row with the mouse (brush 2 paints 2 x 2).
    await page.mouse.move(box.x + 5, box.y + 5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 5, box.y + 5, { steps: 8 });
    await page.mouse.up();
    const stroke = await canvasSignature(page, '#use-pad');
    assert.notEqual(stroke, blank, 'the mouse drew nothing');
    // The keyboard: the eraser, then Space at the cursor (top left after the stroke).
    await page.focus('#use-pad');
    await page.keyboard.press('Home'); // not a pad key: ignored
    await page.keyboard.press('e');
    assert.equal(await page.getAttribute('#use-tool-eraser', 'aria-pressed'), 'true');
    await setValue(page, 'use-brush', '1');
    await page.focus('#use-pad');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('b');
    await page.keyboard.press('Space');
    assert.notEqual(await canvasSignature(page, '#use-pad'), stroke, 'the keyboard drew nothing');
    await page.click('#use-score');
    await page.waitForFunction(() => /log p\(v\) = -?[\d.]+ nats/.test(document.getElementById('use-score-result').textContent));
    assert.match(await page.textContent('#use-score-result'), /more likely than \d+ % of the first 30 training pictures/);
    // A mask that hides nothing, then one that hides everything: named, and nothing lost.
    await page.selectOption('#use-hide_part', 'painted');
    await page.click('#use-complete');
    await page.waitForFunction(() => /the mask hides no pixel: there is nothing to fill in/.test(document.getElementById('use-message').textContent));
    await page.focus('#use-pad');
    await page.keyboard.press('h');
    await setValue(page, 'use-brush', '4');
    await page.focus('#use-pad');
    for (const key of ['ArrowUp', 'ArrowUp', 'ArrowUp', 'ArrowLeft', 'ArrowLeft', 'ArrowLeft']) await page.keyboard.press(key);
    await page.keyboard.press('Space');
    await page.click('#use-complete');
    await page.waitForFunction(() => /the mask hides every pixel/.test(document.getElementById('use-message').textContent));
    // A noise level of 0: a note, not an error.
    await setValue(page, 'use-noise_level', '0');
    await page.click('#use-denoise');
    await page.waitForFunction(() => /Set a noise level above 0/.test(document.getElementById('use-message').textContent));
  });
});

test('a finger draws on the pad at 360 px', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4', width: 360, height: 740, touch: true }, async ({ page }) => {
    const pad = await page.$('#use-pad');
    await pad.scrollIntoViewIfNeeded();
    const box = await pad.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, 'the pad fits the screen');
    const before = await canvasSignature(page, '#use-pad');
    await page.touchscreen.tap(box.x + box.width * 0.9, box.y + box.height * 0.9);
    await page.waitForFunction((b) => {
      const canvas = document.getElementById('use-pad');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let h = 2166136261;
      for (let i = 0; i < data.length; i += 4) h = Math.imul(h ^ data[i], 16777619);
      return `${canvas.width}x${canvas.height}:${h >>> 0}` !== b;
    }, before);
  });
});

test('the panel settings travel in the address, and bad ones are refused', async () => {
  const hash = '#data=bars&side=4&hide=left&cchains=4&csteps=50&noise=0.2&clean=anneal&brush=3';
  await withLab({ hash }, async (lab) => {
    const { page } = lab;
    const expected = { hide_part: 'left', completion_chains: '4', completion_steps: '50', noise_level: '0.2', denoise_method: 'anneal', brush: '3' };
    for (const [id, value] of Object.entries(expected)) assert.equal(await page.inputValue(`#use-${id}`), value, id);
    await setValue(page, 'use-completion_chains', '100');
    await page.waitForFunction(() => /completion_chains = 100 is not allowed: between 1 and 64/.test(document.getElementById('use-message').textContent));
    assert.equal(await page.inputValue('#use-completion_chains'), '4');
    await page.selectOption('#use-hide_part', 'bottom');
    await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('hide') === 'bottom');
    await page.reload();
    await waitForStatus(page, ['Ready']);
    assert.equal(await page.inputValue('#use-hide_part'), 'bottom');
  });
  await withLab({ hash: '#seed=1&data=bars&side=4&hide=diagonal&noise=0.9' }, async (lab) => {
    const notice = await lab.page.textContent('#notice-text');
    assert.match(notice, /hide = "diagonal" is not one of top, bottom, left, right, painted/);
    assert.match(notice, /noise = 0.9 is not allowed: between 0 and 0.4/);
  });
});
