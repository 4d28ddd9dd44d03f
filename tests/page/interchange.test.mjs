// A model from PyTorch: the page loads a .safetensors file (tensors W [n_visible,
// n_hidden], b, c as float32; README "Model files"). The file here is written byte by
// byte from the format's definition (an 8-byte little-endian header length, a JSON
// header, then the raw data), as another program would write it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, waitForStatus, messageText } from './helpers.mjs';

function safetensors(tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  const parts = [];
  for (const [name, shape, values] of tensors) {
    const data = Buffer.from(new Float32Array(values).buffer);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
    parts.push(data);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, Buffer.from(json), ...parts]);
}

test('a .safetensors model loads and trains on, and a bad one is refused with its reason', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async ({ page }) => {
    const weights = Array.from({ length: 16 * 8 }, (_, k) => Math.sin(k) * 0.3);
    const file = safetensors([['W', [16, 8], weights], ['b', [16], Array(16).fill(-0.5)], ['c', [8], Array(8).fill(0.1)]],
      { format: 'rbm-lab-model', image_shape: '4x4', steps_done: '40' });
    await page.setInputFiles('#load-model', { name: 'from-pytorch.safetensors', mimeType: 'application/octet-stream', buffer: file });
    await waitForStatus(page, ['Model loaded: 8 hidden units, step 40.']);
    await page.click('#step');
    await page.waitForFunction(() => /step 41 /.test(document.getElementById('status').textContent));
    const bad = safetensors([['W', [16, 8], weights], ['b', [15], Array(15).fill(0)], ['c', [8], Array(8).fill(0)]], {});
    await page.setInputFiles('#load-model', { name: 'bad.safetensors', mimeType: 'application/octet-stream', buffer: bad });
    await waitForStatus(page, ['Error']);
    assert.match(await messageText(page), /tensor `b` has shape \[15\], expected \[16\]/);
  });
});
