// The guide page (issue 10): for each step, move its control and check the figure's
// numbers against what the engine says they must be; screenshots of each step at
// 1280 px and 360 px; no console error, no request outside the origin, no sideways
// scrolling on a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openLab, SCREENSHOTS } from './helpers.mjs';

async function withGuide(options, body) {
  const lab = await openLab(options);
  try {
    const { page } = lab;
    await page.goto(`${lab.origin}/guide.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60000 });
    await body(page, lab);
    const shown = await page.$$eval('.figure-error', (errors) => errors.filter((e) => !e.hidden).map((e) => e.textContent));
    assert.deepEqual(shown, []);
    assert.deepEqual(lab.problems, []);
  } finally {
    await lab.close();
  }
}

const ask = (page, action, fields) => page.evaluate(([a, f]) => window.rbmGuide.request('guide', a, f), [action, fields]);
const close = (a, b, tolerance, what) => assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b}`);

/** The tiny model as the sliders of step 3 show it. */
const sliderParams = (page) => page.evaluate(() => {
  const value = (key, i) => Number(document.getElementById(`param-${key}-${i}`).value);
  return {
    nVisible: 4, nHidden: 2,
    weights: Array.from({ length: 8 }, (_, k) => value('weights', k)),
    visibleBias: Array.from({ length: 4 }, (_, i) => value('visibleBias', i)),
    hiddenBias: Array.from({ length: 2 }, (_, j) => value('hiddenBias', j)),
  };
});

test('the guide at 1280 and 360 px, light and dark: every step drawn, no sideways scrolling, screenshots', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [width, dark] of [[1280, false], [360, false], [360, true]]) {
    await withGuide({ width, height: 900 }, async (page) => {
      if (dark) await page.emulateMedia({ colorScheme: 'dark' });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'the page scrolls sideways');
      for (let n = 1; n <= 8; n += 1) {
        assert.ok(await page.$eval(`#figure-${n}`, (f) => f.children.length > 0), `figure ${n} is empty`);
        await page.locator(`#step-${n}`).screenshot({ path: join(SCREENSHOTS, `guide-step-${n}-${width}${dark ? '-dark' : ''}.png`) });
      }
      // The lab links back, and the guide links to the lab.
      assert.equal(await page.getAttribute('header a[href="index.html"]', 'href'), 'index.html');
    });
  }
});

test('step 1: the review is the product of its words\' conditionals, and a new sample changes it', async () => {
  await withGuide({}, async (page) => {
    const read = () => page.evaluate(() => {
      const product = document.getElementById('critic-product');
      return {
        words: [...document.querySelectorAll('#critic-words .word-text')].map((w) => w.textContent).join(' '),
        shown: [...document.querySelectorAll('#critic-words .word')].map((w) => Number(w.dataset.p)),
        factors: JSON.parse(product.dataset.factors), logFive: Number(product.dataset.logFive),
      };
    });
    const first = await read();
    assert.equal(first.shown.length, 5);
    close(first.shown.reduce((a, p) => a + Math.log(p), 0), first.logFive, 1e-9, 'the product of the shown probabilities');
    // The engine scores the same words the same way.
    const scored = await page.evaluate((text) => window.rbmGuide.request('critic', 'attribute', { text }), first.words);
    scored.scores[0].words.slice(0, 5).forEach((w, t) => close(w.log_probability, first.factors[t], 1e-12, `word ${t + 1}`));
    let next = first;
    for (let tries = 0; tries < 8 && next.words === first.words; tries += 1) {
      const count = await page.$eval('#critic-words', (w) => Number(w.dataset.samples));
      await page.click('#critic-sample');
      // Each sample is numbered when it is drawn; the words follow in the same task.
      await page.waitForFunction((n) => Number(document.getElementById('critic-words').dataset.samples) > n
        && document.getElementById('critic-product').dataset.drawn === document.getElementById('critic-words').dataset.samples, count);
      next = await read();
    }
    assert.notEqual(next.words, first.words, 'eight samples gave the same review');
  });
});

test('step 2: clamping two pixels fills in the rest as the engine\'s exact completion says', async () => {
  await withGuide({}, async (page) => {
    await page.click('#pixel-0'); // on
    await page.click('#pixel-1');
    await page.click('#pixel-1'); // off
    await page.waitForFunction(() => document.getElementById('pixel-1').classList.contains('off') && document.getElementById('pixel-1').dataset.p === '0');
    const shown = await page.$$eval('.pixel', (cells) => cells.map((c) => Number(c.dataset.p)));
    const model = await ask(page, 'pictureModel', {});
    const exact = await ask(page, 'clamped', { params: model.params, clamp: [1, 0, -1, -1, -1, -1, -1, -1, -1] });
    exact.forEach((p, i) => close(shown[i], p, 1e-12, `pixel ${i}`));
    // Only a stripe pattern has the top row mixed: the left column on, the middle off,
    // the right column either way.
    for (const i of [3, 6]) assert.ok(shown[i] > 0.8, `left column pixel ${i}: ${shown[i]}`);
    for (const i of [4, 7]) assert.ok(shown[i] < 0.2, `middle column pixel ${i}: ${shown[i]}`);
    for (const i of [2, 5, 8]) assert.ok(shown[i] > 0.2 && shown[i] < 0.8, `right column pixel ${i}: ${shown[i]}`);
  });
});

test('step 3: a slider moved by keyboard changes the joint table, which sums to 1 and matches the engine\'s p(v)', async () => {
  await withGuide({}, async (page) => {
    const before = JSON.parse(await page.$eval('#marginal-bars', (b) => b.dataset.marginal));
    await page.focus('#param-weights-0');
    for (let k = 0; k < 10; k += 1) await page.keyboard.press('ArrowRight');
    assert.equal(await page.inputValue('#param-weights-0'), '3');
    await page.waitForFunction((old) => document.getElementById('marginal-bars').dataset.marginal !== old, JSON.stringify(before));
    const params = await sliderParams(page);
    const table = await ask(page, 'joint', { params });
    const shown = JSON.parse(await page.$eval('#marginal-bars', (b) => b.dataset.marginal));
    table.visibleMarginal.forEach((p, v) => close(shown[v], p, 1e-12, `p(v = ${v})`));
    close(Number(await page.$eval('#joint-summary', (s) => s.dataset.total)), 1, 1e-9, 'the table sums');
    const rows = await page.$$eval('#joint-table tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.p)));
    assert.equal(rows.length, 64);
    close(rows.reduce((a, b) => a + b, 0), 1, 1e-9, 'the rows sum');
    // W11 couples v1 and h1: v = 1100 (v1 on) gains probability.
    assert.ok(shown[0b0011] > before[0b0011], `p(1100) ${before[0b0011]} -> ${shown[0b0011]}`);
    // Each row's probability is exp(-E) / Z.
    const rowsWithEnergy = await page.$$eval('#joint-table tbody tr', (trs) => trs.slice(0, 5).map((tr) => [Number(tr.dataset.p), Number(tr.children[2].textContent)]));
    for (const [p, energy] of rowsWithEnergy) close(p, Math.exp(-energy - table.logPartition), 0.02 * p, 'exp(-E) / Z');
  });
});

test('step 4: each hidden unit\'s sigmoid equals the ratio read off the joint table, for the state picked', async () => {
  await withGuide({}, async (page) => {
    const read = () => page.$$eval('#figure-4 .unit', (units) => units.map((u) => [Number(u.querySelector('.input').textContent),
      Number(u.querySelector('.sigmoid-p').textContent), Number(u.querySelector('.table-p').textContent)]));
    const before = await read();
    await page.click('#cond-v3');
    await page.waitForFunction((old) => document.querySelector('#figure-4 .unit .input')?.textContent !== old
      || document.querySelectorAll('#figure-4 .unit .input')[1]?.textContent !== old, String(before[0][0].toFixed(3)));
    await page.waitForTimeout(200);
    const after = await read();
    assert.notDeepEqual(after, before);
    const engine = await ask(page, 'inputs', { params: await sliderParams(page), visible: [1, 1, 1, 0] });
    after.forEach(([input, sigmoid, table], j) => {
      close(input, engine.input[j], 1e-3, `input of h${j + 1}`);
      close(sigmoid, engine.probability[j], 1e-4, `sigmoid of h${j + 1}`);
      close(table, engine.fromTable[j], 1e-4, `table ratio of h${j + 1}`);
      close(sigmoid, table, 2e-4, `h${j + 1}: sigmoid and table agree`);
    });
  });
});

test('step 5: exact gradient steps raise the exact log-likelihood, and the model every figure shows changes', async () => {
  await withGuide({}, async (page) => {
    const ll = () => page.$eval('#gradient-ll', (p) => Number(p.dataset.value));
    const start = await ll();
    const weightBefore = await page.inputValue('#param-weights-0');
    const patterns = [[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]];
    const expected = await ask(page, 'gradientStep', { params: await sliderParams(page), patterns, rate: 0.5 });
    await page.click('#gradient-step');
    await page.waitForFunction((s) => /after 1 steps/.test(document.getElementById('gradient-ll').textContent), start);
    close(await ll(), expected.logLikelihoodAfter, 1e-9, 'the step the engine took');
    assert.ok(await ll() > start, `${start} -> ${await ll()}`);
    await page.click('#gradient-ten');
    await page.waitForFunction(() => /after 11 steps/.test(document.getElementById('gradient-ll').textContent), null, { timeout: 30000 });
    const points = await page.$eval('#chart-gradient-ll', (c) => Number(c.dataset.points));
    assert.equal(points, 12);
    assert.ok(await ll() > start + 0.1);
    // Step 3's sliders show the new weights.
    assert.notEqual(await page.inputValue('#param-weights-0'), weightBefore);
    // The data term minus the model term is the difference shown.
    const cells = await page.$$eval('#figure-5 table.heat', (tables) => tables.map((t) => [...t.querySelectorAll('td[data-value]')].map((c) => Number(c.dataset.value))));
    cells[2].forEach((d, k) => close(d, cells[0][k] - cells[1][k], 1e-9, `difference ${k}`));
  });
});

test('step 6: the chain\'s visits approach the exact p(v), and larger weights mix more slowly', async () => {
  await withGuide({}, async (page) => {
    const runTo = async (steps) => {
      await page.click('#walk-play');
      await page.waitForFunction((n) => Number(document.getElementById('walk-status').dataset.steps) >= n, steps, { timeout: 60000 });
      await page.click('#walk-play');
      await page.waitForTimeout(200);
      return page.evaluate(() => ({
        tv: Number(document.getElementById('walk-status').dataset.tv),
        acf: JSON.parse(document.getElementById('walk-acf').dataset.values ?? '[]'),
        points: Number(document.getElementById('chart-walk-tv').dataset.points),
      }));
    };
    const normal = await runTo(20000);
    // 16 states, 20,000 steps of a quickly mixing chain: within about 0.03 (see tests/guide.rs).
    assert.ok(normal.tv < 0.06, `TV ${normal.tv}`);
    assert.ok(normal.points > 5);
    await page.fill('#walk-scale', '4');
    await page.dispatchEvent('#walk-scale', 'input');
    await page.waitForFunction(() => document.getElementById('walk-status').dataset.steps === '0');
    const deep = await runTo(20000);
    assert.ok(deep.acf[5] > normal.acf[5] + 0.3, `lag-5 autocorrelation ${deep.acf[5]} at weights x4, ${normal.acf[5]} at x1`);
    assert.ok(deep.tv > normal.tv, `TV ${deep.tv} at x4, ${normal.tv} at x1`);
  });
});

test('step 7: block Gibbs updates the hidden layer, then the visible layer, with the engine\'s probabilities', async () => {
  await withGuide({}, async (page) => {
    const visibleOn = () => page.$$eval('#figure-7 .node', (nodes) => nodes.filter((n) => /^v/.test(n.textContent)).map((n) => (n.classList.contains('on') ? 1 : 0)));
    const before = await visibleOn();
    await page.click('#gibbs-next');
    await page.waitForFunction(() => document.getElementById('gibbs-explain').dataset.updated === 'hidden');
    const shown = await page.$$eval('#figure-7 .node .prob', (ps) => ps.slice(0, 2).map((p) => Number(p.textContent.slice(2))));
    const engine = await ask(page, 'inputs', { params: await sliderParams(page), visible: before });
    engine.probability.forEach((p, j) => close(shown[j], p, 0.006, `p(h${j + 1} = 1 | v)`));
    assert.equal(await page.textContent('#gibbs-next'), 'Sample the visible layer');
    await page.click('#gibbs-next');
    await page.waitForFunction(() => document.getElementById('gibbs-explain').dataset.updated === 'visible');
    assert.equal(await page.$eval('#gibbs-explain', (e) => e.dataset.steps), '1');
  });
});

test('step 8: in the race the exact gradient ends highest', async () => {
  await withGuide({}, async (page) => {
    await page.click('#race-play');
    await page.waitForFunction(() => Number(document.getElementById('race-status').dataset.steps) >= 2000, null, { timeout: 120000 });
    const values = JSON.parse(await page.$eval('#race-status', (s) => s.dataset.values));
    const runners = ['exact', 'Gibbs-10', 'CD-1', 'CD-10', 'PCD-1'];
    console.log(`race at 2,000 updates: ${runners.map((r, k) => `${r} ${values[k].toFixed(3)}`).join(', ')}`);
    values.slice(1).forEach((v, k) => assert.ok(values[0] > v, `${runners[k + 1]} (${v}) beat the exact gradient (${values[0]})`));
    assert.equal(await page.$eval('#chart-race', (c) => Number(c.dataset.points) > 0), true);
    assert.equal(await page.textContent('#race-play'), 'Finished');
  });
});
