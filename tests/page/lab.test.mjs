// What a person does with the lab, in Debian's Chromium. Every test also asserts that
// the page logged no console error and made no request outside its own origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canvasSignature, waitForStatus, statusNumber, messageText, withLab, setValue, saveModel } from './helpers.mjs';


const points = (page, id) => page.$eval(`#${id}`, (element) => Number(element.dataset.points));

test('training MNIST changes the samples and draws the curves', async () => {
  await withLab({}, async (lab) => {
    const { page } = lab;
    assert.equal(await page.inputValue('#data'), 'mnist');
    const before = await canvasSignature(page, '#samples');
    await page.click('#train');
    await page.waitForFunction(() => /step (\d+)/.exec(document.getElementById('status').textContent)?.[1] > 100, null, { timeout: 30000 });
    await page.waitForFunction(() => Number(document.getElementById('chart-likelihood').dataset.points) >= 3);
    assert.notEqual(await canvasSignature(page, '#samples'), before, 'the samples did not change');
    assert.ok((await points(page, 'chart-recon')) > 2, 'no reconstruction-error points');
    assert.ok((await points(page, 'chart-gap')) > 1, 'no free-energy-gap points');
    assert.match(await page.textContent('#status'), /samples\/s/);
    assert.match(await page.textContent('#exact-note'), /2\^100 states/);
    await lab.screenshot('lab-mnist-training');
    await page.click('#train');
    await waitForStatus(page, ['Paused', 'Training paused']);
  });
});

test('the chains animate, and pausing them stops them', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    await page.click('#chains-play');
    await page.waitForFunction(() => /chain step (\d+)/.exec(document.getElementById('chain-status').textContent)?.[1] > 5);
    const first = await canvasSignature(page, '#samples');
    await page.waitForTimeout(300);
    const second = await canvasSignature(page, '#samples');
    assert.notEqual(first, second, 'successive frames are identical while playing');
    await page.click('#chains-play');
    await page.waitForTimeout(300);
    const paused = await canvasSignature(page, '#samples');
    const pausedSteps = await page.textContent('#chain-status');
    await page.waitForTimeout(600);
    assert.equal(await canvasSignature(page, '#samples'), paused, 'the chains moved while paused');
    assert.equal(await page.textContent('#chain-status'), pausedSteps);
  });
});

test('settings in the hash survive a reload, and the same seed gives the same first samples', async () => {
  const hash = '#data=bars&side=4&hidden=12&algo=cd&k=2&lr=0.03&seed=77&chains=25';
  const firstSamples = async (page) => {
    const ready = await canvasSignature(page, '#samples');
    for (let n = 1; n <= 3; n++) {
      await page.click('#step');
      await page.waitForFunction((want) => /step (\d+)/.exec(document.getElementById('status').textContent)?.[1] === String(want), n);
    }
    await page.waitForTimeout(200);
    return [ready, await canvasSignature(page, '#samples')];
  };
  await withLab({ hash }, async (lab) => {
    const { page } = lab;
    const expected = { data: 'bars', side: '4', n_hidden: '12', algorithm: 'cd', k: '2', learning_rate: '0.03', seed: '77', chains: '25' };
    const run1 = await firstSamples(page);
    await page.reload();
    await waitForStatus(page, ['Ready']);
    for (const [id, value] of Object.entries(expected)) assert.equal(await page.inputValue(`#${id}`), value, id);
    assert.ok(page.url().includes('seed=77'));
    const run2 = await firstSamples(page);
    assert.deepEqual(run2, run1, 'the same seed gave other samples');
    await setValue(page, 'seed', '78');
    await waitForStatus(page, ['Ready']);
    assert.ok(page.url().includes('seed=78'), 'the hash did not follow the control');
    const run3 = await firstSamples(page);
    assert.notDeepEqual(run3, run1, 'another seed gave the same samples');
    await lab.screenshot('lab-hash-restored');
  });
});

test('on 4 x 4 bars and stripes the chains approach the exact p(v)', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4&epochs=300' }, async (lab) => {
    const { page } = lab;
    await page.click('#train');
    await waitForStatus(page, ['Run complete'], 60000);
    await page.click('#chains-play'); // pause the chains, then drive them by hand
    await page.click('#chains-restart');
    const tvAfter = async (steps) => {
      await page.waitForFunction((want) => new RegExp(`chain step ${want} `).test(document.getElementById('chain-status').textContent), steps);
      return Number(/distance ([\d.]+)/.exec(await page.textContent('#chain-status'))[1]);
    };
    for (let n = 0; n < 3; n++) await page.click('#chains-step');
    const early = await tvAfter(3);
    await setValue(page, 'steps_per_frame', '147');
    await page.click('#chains-step');
    const late = await tvAfter(150);
    assert.ok(late < early - 0.1, `total-variation distance ${early} -> ${late}`);
    assert.ok((await points(page, 'chart-tv')) >= 4, 'a point per chain frame on the distance chart');
    assert.equal(await page.isHidden('#small-model'), false);
    await lab.screenshot('lab-bars-chains');
  });
});

test('a 360 px wide screen needs no horizontal scrolling', async () => {
  await withLab({ width: 360, height: 740 }, async (lab) => {
    const { page } = lab;
    await page.click('#train');
    await page.waitForTimeout(1500);
    const [scrollWidth, clientWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scrollWidth <= clientWidth, `page is ${scrollWidth} px wide in a ${clientWidth} px viewport`);
    const widest = await page.evaluate(() => Math.max(...[...document.querySelectorAll('section')].map((s) => s.getBoundingClientRect().right)));
    assert.ok(widest <= 360, `a panel reaches ${widest} px`);
    await lab.screenshot('lab-360px');
  });
});

test('a bad setting shows the engine message and nothing is lost', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=3&batch=7' }, async (lab) => {
    const { page } = lab;
    await setValue(page, 'batch_size', '50');
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /batch_size = 50 is not allowed: between 1 and 14/);
    await setValue(page, 'learning_rate', '-1');
    await setValue(page, 'batch_size', '7');
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /learning_rate = -1 is not allowed: greater than 0/);
    await setValue(page, 'learning_rate', '0.1');
    await page.click('#step');
    await page.waitForFunction(() => /step 1 /.test(document.getElementById('status').textContent));
  });
});

test('a saved model loads back, and a model for other data is refused with a reason', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    for (let i = 0; i < 5; i++) await page.click('#step');
    await page.waitForFunction(() => /step 5 /.test(document.getElementById('status').textContent));
    const { text } = await saveModel(page);
    const model = JSON.parse(text);
    assert.equal(model.format, 'rbm-lab-model');
    assert.deepEqual([model.n_visible, model.n_hidden, model.weights.length], [16, 16, 256]);
    assert.deepEqual(model.image_shape, [4, 4]);
    await page.setInputFiles('#load-model', { name: 'model.json', mimeType: 'application/json', buffer: Buffer.from(text) });
    await waitForStatus(page, ['Model loaded: 16 hidden units, step 5.']);
    const other = { ...model, n_visible: 9, weights: model.weights.slice(0, 9 * 16), visible_bias: model.visible_bias.slice(0, 9), image_shape: [3, 3] };
    await page.setInputFiles('#load-model', { name: 'other.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(other)) });
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /this model has 9 visible units but the chosen data has 16 pixels/);
    await page.setInputFiles('#load-model', { name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{"format": "x"}') });
    await page.waitForFunction(() => /format is "x"/.test(document.getElementById('message').textContent));
  });
});

test('drawn patterns train, and travel in the hash', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    await page.selectOption('#data', 'drawn');
    // Choosing to draw is not an error: the page says what to do, the bars keep running.
    await waitForStatus(page, ['Draw a pattern on the grid']);
    assert.match(page.url(), /data=bars/);
    const cells = await page.$$('#draw-grid button');
    for (const k of [0, 1, 2, 3, 4, 5]) await cells[k].click(); // top row
    await page.click('#draw-add');
    await page.click('#draw-clear');
    for (const k of [0, 6, 12, 18, 24, 30]) await cells[k].click(); // left column
    await cells[30].press('Enter'); // keyboard toggles too: off again
    await cells[30].press('Enter'); // and on
    await page.click('#draw-add');
    await page.click('#draw-use');
    await waitForStatus(page, ['Ready']);
    assert.match(page.url(), /patterns=6%3A/);
    await page.click('#train');
    await page.waitForFunction(() => /step (\d+)/.exec(document.getElementById('status').textContent)?.[1] > 50);
    await page.click('#train');
    await page.reload();
    await waitForStatus(page, ['Ready']);
    assert.equal(await page.$$eval('#draw-list canvas', (c) => c.length), 2);
    await lab.screenshot('lab-drawn');
  });
});

test('your own CSV rows or PNG images become the training set', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    await page.selectOption('#data', 'loaded');
    await setValue(page, 'load-rows', '2');
    await setValue(page, 'load-cols', '3');
    const csv = '1,0,1,0,1,0\n0 1 0 1 0 1\n1,1,1,0,0,0\n';
    await page.setInputFiles('#load-file', { name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForFunction(() => /3 images of 2 rows x 3 columns loaded/.test(document.getElementById('load-status').textContent));
    await waitForStatus(page, ['Ready']);
    await page.setInputFiles('#load-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('1,0,2,0,1,0\n') });
    await page.waitForFunction(() => /line 1, value 3 is "2"; only 0 and 1/.test(document.getElementById('load-status').textContent));

    // Two 5 x 4 PNGs drawn by the browser itself: a dark left column on white.
    const png = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(5, 4);
      const context = canvas.getContext('2d');
      context.fillStyle = '#fff';
      context.fillRect(0, 0, 5, 4);
      context.fillStyle = '#000';
      context.fillRect(0, 0, 1, 4);
      return [...new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer())];
    });
    const file = (name) => ({ name, mimeType: 'image/png', buffer: Buffer.from(png) });
    await page.setInputFiles('#load-file', [file('a.png'), file('b.png')]);
    await page.waitForFunction(() => /2 images of 4 rows x 5 columns loaded/.test(document.getElementById('load-status').textContent));
    await waitForStatus(page, ['Ready']);
    await page.click('#step');
    await page.waitForFunction(() => /step 1 /.test(document.getElementById('status').textContent));
  });
});

test('settings that would freeze the worker are refused with what to change', async () => {
  await withLab({}, async (lab) => {
    const { page } = lab;
    await setValue(page, 'n_hidden', '20');
    await waitForStatus(page, ['Ready']);
    await page.selectOption('#algorithm', 'exact');
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /one update with these settings would take about [\d.]+ s.*fewer hidden units/);
    assert.equal(await page.inputValue('#algorithm'), 'pcd', 'the form shows what runs, not the refused choice');
    await page.selectOption('#algorithm', 'cd');
    await setValue(page, 'n_hidden', '100');
    await waitForStatus(page, ['Ready']);
    await setValue(page, 'k', '1000');
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /lower k, the batch size/);
    await setValue(page, 'k', '1');
    await page.click('#step');
    await page.waitForFunction(() => /step 1 /.test(document.getElementById('status').textContent));
  });
});
