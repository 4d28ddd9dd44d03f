import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
const server = await startServer(0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox'] });
const page = await browser.newPage();
await page.goto(`${origin}/`);
const out = await page.evaluate(async () => {
  const engine = await import('/www/pkg/rbm_lab.js');
  await engine.default();
  const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
  const train = engine.Dataset.fromPacked(bytes, 'train');
  const model = new engine.Trainer({ n_hidden: 500, batch_size: 100, seed: 1 }, train).model();
  const res = {};
  for (const rows of [10, 25, 50, 100, 200, 50, 100]) {
    const chains = new engine.Chains(model, rows, 2);
    chains.step(Math.ceil(2000 / rows), 1);
    const reps = Math.ceil(4000 / rows);
    const t = performance.now();
    chains.step(reps, 1);
    const ms = (performance.now() - t) / reps / 2;
    res[rows] = `${ms.toFixed(3)} ms/product ${(2 * rows * 784 * 500 / ms / 1e6).toFixed(1)} GFLOP/s`;
    chains.free();
  }
  return res;
});
console.log(out);
await browser.close();
server.close();
