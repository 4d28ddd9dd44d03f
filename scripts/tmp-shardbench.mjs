import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
const server = await startServer(0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox'] });
const page = await browser.newPage();
page.on('console', (m) => console.log('console:', m.text()));
await page.goto(`${origin}/`);
const out = await page.evaluate(async (K) => {
  const engine = await import('/www/pkg/rbm_lab.js');
  await engine.default();
  const bytes = new Uint8Array(await (await fetch('/www/data/mnist.bin')).arrayBuffer());
  const train = engine.Dataset.fromPacked(bytes, 'train');
  const results = {};
  for (const workers of [1, 2, 2]) {
    const trainer = new engine.Trainer({ n_hidden: 500, algorithm: 'cd', k: K, learning_rate: 0.05,
      momentum: 0.5, weight_decay: 1e-4, batch_size: 100, seed: 1 }, train);
    trainer.setWorkers(workers);
    const helpers = Array.from({ length: workers - 1 }, () => new Worker('/www/helper.js', { type: 'module' }));
    const waiters = new Map();
    let job = 1;
    for (const h of helpers) h.onmessage = ({ data }) => { waiters.get(data.job)(data); waiters.delete(data.job); };
    const timing = { begin: 0, own: 0, wait: 0, requests: 0, accept: 0, finish: 0 };
    async function update() {
      let t = performance.now();
      trainer.beginUpdate();
      timing.begin = (timing.begin ?? 0) + performance.now() - t;
      const requests = trainer.shardRequests();
      const answers = requests.map(({ shard, bytes }) => new Promise((resolve) => {
        const id = job++;
        waiters.set(id, resolve);
        helpers[(shard - 1) % helpers.length].postMessage({ job: id, bytes }, [bytes.buffer]);
      }));
      let t2 = performance.now(); timing.requests += t2 - t; t = t2;
      let slice = trainer.trainFor(60000, 1);
      t2 = performance.now(); timing.own += t2 - t; t = t2;
      if (slice.updates === 0) {
        const got = await Promise.all(answers);
        t2 = performance.now(); timing.wait += t2 - t; t = t2;
        for (const a of got) trainer.acceptShard(a.bytes);
        t2 = performance.now(); timing.accept += t2 - t; t = t2;
        slice = trainer.trainFor(60000, 1);
        t2 = performance.now(); timing.finish += t2 - t; t = t2;
      }
    }
    for (let i = 0; i < 30; i++) await update();
    if (workers === 2) {
      trainer.beginUpdate();
      const [{ bytes }] = trainer.shardRequests();
      const t0 = performance.now();
      let out;
      for (let i = 0; i < 10; i++) out = engine.runShard(bytes);
      results.runShardMs = (performance.now() - t0) / 10;
      trainer.acceptShard(out);
      trainer.trainFor(60000, 1, true);
    }
    for (const k in timing) timing[k] = 0;
    const t = performance.now();
    for (let i = 0; i < 100; i++) await update();
    const rate = 100000 / (performance.now() - t);
    for (const k in timing) timing[k] = +(timing[k] / 100).toFixed(2);
    results[`w${workers}`] = [...(results[`w${workers}`] ?? []), { rate: +rate.toFixed(1), timing }];
    helpers.forEach((h) => h.terminate());
    trainer.free();
  }
  return results;
}, Number(process.env.K ?? 1));
console.log(JSON.stringify(out, null, 1));
await browser.close();
server.close();
