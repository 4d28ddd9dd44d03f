// The engine's figures inside headless Chromium (the real wasm build, one thread):
// the same three as benches/engine.rs. Run by `./lab bench`.
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const server = await startServer(0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const figures = await page.evaluate(async () => {
    const engine = await import('/www/pkg/rbm_lab.js');
    await engine.default();
    const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
    const train = engine.Dataset.fromPacked(bytes, 'train');
    const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const trainer = new engine.Trainer({ n_hidden: 500, algorithm: 'cd', k: 1, learning_rate: 0.05,
      momentum: 0.5, weight_decay: 1e-4, batch_size: 100, seed: 1 }, train);
    trainer.steps(5);
    const cd = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      trainer.steps(20);
      cd.push(20000 / (performance.now() - t));
    }
    const model = trainer.model();
    const chains = new engine.Chains(model, 100, 2);
    chains.step(5, 1);
    const gibbs = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      chains.step(20, 1);
      gibbs.push(20000 / (performance.now() - t));
    }
    const small = new engine.Trainer({ n_hidden: 20, batch_size: 100, seed: 1 }, train).model();
    const logZ = [];
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      const value = small.logPartition(1);
      if (!Number.isFinite(value)) throw new Error('log Z is not finite');
      logZ.push((performance.now() - t) / 1000);
    }
    return { cd: median(cd), gibbs: median(gibbs), logZ: median(logZ) };
  });
  // The page itself: from navigation to the first chains' picture on screen (the samples
  // canvas takes its size with the first frame), each time in a fresh context (no cache).
  const firstSample = [];
  for (let r = 0; r < 3; r++) {
    const context = await browser.newContext();
    const fresh = await context.newPage();
    await fresh.goto(`${origin}/#seed=1`);
    await fresh.waitForFunction(() => document.getElementById('samples').width > 10, null, { timeout: 30000 });
    firstSample.push(await fresh.evaluate(() => performance.now()));
    await context.close();
  }
  firstSample.sort((a, b) => a - b);
  const row = (name, value) => console.log(`| ${name.padEnd(41)} | ${value.padEnd(15)} |`);
  row('engine (Chromium, wasm simd128, 1 thread)', 'figure');
  console.log(`|${'-'.repeat(43)}|${'-'.repeat(17)}|`);
  row('CD-1 784x500, batch 100: updates/s', `${figures.cd.toFixed(1)} (${Math.round(figures.cd * 100)} samples/s)`);
  row('Gibbs 784x500, 100 chains: steps/s', figures.gibbs.toFixed(1));
  row('exact log Z, 784x20 (2^20 states): s', figures.logZ.toFixed(2));
  row('page load to first sample on screen: ms', `${Math.round(firstSample[1])} (${Math.round(firstSample[0])} to ${Math.round(firstSample[2])})`);
} finally {
  await browser.close();
  server.close();
}
