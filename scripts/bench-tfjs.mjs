// TensorFlow.js running the same CD-1 as the engine (784 x 500, batch 100, momentum
// 0.5, weight decay 1e-4, sampled hidden and visible states, float32) in the same
// headless Chromium, with its wasm backend (XNNPACK, SIMD; one thread, as a page
// without cross-origin isolation gets) and its plain JavaScript CPU backend. Its own
// files are served from node_modules by a small server of its own on another port:
// the lab's server serves the lab's files and nothing else. The minibatches are 10
// fixed random binary ones with MNIST's share of dark pixels (13 %): the time of a
// product does not depend on the values. Run by `./lab bench` through bench-browser.mjs.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const FILES = {
  '/tf-core.js': 'node_modules/@tensorflow/tfjs-core/dist/tf-core.es2017.min.js',
  '/tf-backend-cpu.js': 'node_modules/@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.es2017.min.js',
  '/tf-backend-wasm.js': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js',
  '/tfjs-backend-wasm.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  '/tfjs-backend-wasm-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  '/tfjs-backend-wasm-threaded-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
};
const PAGE = `<!doctype html><meta charset="utf-8"><title>TF.js CD-1</title>
<script src="/tf-core.js"></script><script src="/tf-backend-cpu.js"></script><script src="/tf-backend-wasm.js"></script>`;

/** Serves the TF.js files on a free port; resolves to the server. */
function serveTfjs(root) {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const file = FILES[path];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    const type = path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    response.writeHead(200, { 'content-type': type }).end(await readFile(join(root, file)));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Updates per second of TF.js's CD-1 on `backend` ('wasm' or 'cpu'): median of `blocks`. */
export async function tfjsCd1(browser, root, backend, { updates = 20, blocks = 5 } = {}) {
  const server = await serveTfjs(root);
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    return await page.evaluate(async ([name, updates, blocks]) => {
      const { tf } = globalThis;
      tf.wasm.setWasmPaths(`${location.origin}/`);
      await tf.setBackend(name);
      await tf.ready();
      const [m, n, batch, lr, mu, decay] = [784, 500, 100, 0.05, 0.5, 1e-4];
      const batches = Array.from({ length: 10 }, () => tf.tidy(() => tf.cast(tf.less(tf.randomUniform([batch, m]), 0.13), 'float32')));
      const W = tf.variable(tf.randomNormal([m, n], 0, 0.01));
      const b = tf.variable(tf.zeros([m]));
      const c = tf.variable(tf.zeros([n]));
      const vW = tf.variable(tf.zeros([m, n]));
      const vb = tf.variable(tf.zeros([m]));
      const vc = tf.variable(tf.zeros([n]));
      const sample = (p) => tf.cast(tf.less(tf.randomUniform(p.shape), p), 'float32');
      let next = 0;
      const update = () => tf.tidy(() => {
        const v0 = batches[next++ % batches.length];
        const ph0 = tf.sigmoid(tf.add(tf.matMul(v0, W), c));
        const pv1 = tf.sigmoid(tf.add(tf.matMul(sample(ph0), W, false, true), b));
        const v1 = sample(pv1);
        const ph1 = tf.sigmoid(tf.add(tf.matMul(v1, W), c));
        const gW = tf.div(tf.sub(tf.matMul(v0, ph0, true, false), tf.matMul(v1, ph1, true, false)), batch);
        const gb = tf.mean(tf.sub(v0, v1), 0);
        const gc = tf.mean(tf.sub(ph0, ph1), 0);
        vW.assign(tf.add(tf.mul(vW, mu), tf.mul(tf.sub(gW, tf.mul(W, decay)), lr)));
        vb.assign(tf.add(tf.mul(vb, mu), tf.mul(gb, lr)));
        vc.assign(tf.add(tf.mul(vc, mu), tf.mul(gc, lr)));
        W.assign(tf.add(W, vW));
        b.assign(tf.add(b, vb));
        c.assign(tf.add(c, vc));
      });
      for (let i = 0; i < 5; i++) update();
      W.dataSync();
      const rates = [];
      for (let r = 0; r < blocks; r++) {
        const t = performance.now();
        for (let i = 0; i < updates; i++) update();
        W.dataSync();
        rates.push((updates * 1000) / (performance.now() - t));
      }
      rates.sort((x, y) => x - y);
      return { rate: rates[Math.floor(rates.length / 2)], low: rates[0], high: rates[rates.length - 1], backend: tf.getBackend() };
    }, [backend, updates, blocks]);
  } finally {
    await page.close();
    server.close();
  }
}
