import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLab, canvasSignature } from './helpers.mjs';

test('the page trains MNIST and the samples change, with no console errors or outside requests', async () => {
  const lab = await openLab();
  try {
    const { page } = lab;
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ready'));
    const before = await canvasSignature(page, '#samples');
    await page.click('#train');
    await page.waitForFunction(() => /step (\d+)/.exec(document.getElementById('status').textContent)?.[1] > 20, null, { timeout: 30000 });
    await page.waitForTimeout(500);
    const after = await canvasSignature(page, '#samples');
    assert.notEqual(after, before, 'the sample canvas did not change while training');
    const status = await page.textContent('#status');
    assert.match(status, /reconstruction error 0\.\d+/);
    assert.match(status, /samples\/s/);
    await lab.screenshot('first-page-mnist');
    await page.click('#train'); // pause
    assert.deepEqual(lab.problems, []);
  } finally {
    await lab.close();
  }
});

test('a bad setting shows the engine message and the page keeps working', async () => {
  const lab = await openLab();
  try {
    const { page } = lab;
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ready'));
    await page.fill('#learning_rate', '-1');
    await page.dispatchEvent('#learning_rate', 'change');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Error'));
    assert.match(await page.textContent('#status'), /learning_rate = -1 is not allowed: greater than 0/);
    await page.fill('#learning_rate', '0.1');
    await page.dispatchEvent('#learning_rate', 'change');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ready'));
    assert.deepEqual(lab.problems, []);
  } finally {
    await lab.close();
  }
});
