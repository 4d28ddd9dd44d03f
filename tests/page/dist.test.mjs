// The publishable folder (scripts/dist.mjs, ./lab dist): written fresh into a temporary
// directory under a sub-path, served by Python's http.server (a plain static server that
// knows nothing of the project), opened in Chromium, and trained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import { writeDist } from '../../scripts/dist.mjs';
import { SITE_FILES } from '../../scripts/site-files.mjs';

function listFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => relative(dir, path).split('\\').join('/'))
    .sort();
}

/** Python's http.server on a free port; resolves to [process, port]. */
function pythonServer(directory) {
  return new Promise((resolve, reject) => {
    const server = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', directory],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.on('data', (chunk) => {
      output += chunk;
      const port = /port (\d+)/.exec(output)?.[1];
      if (port) resolve([server, Number(port)]);
    });
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`http.server exited (${code}): ${output}`)));
  });
}

test('dist/ holds the site and its licences, nothing else, and trains (and shows the guide) under a sub-path of a plain static server', async () => {
  const root = mkdtempSync(join(tmpdir(), 'rbm-dist-'));
  const { files } = writeDist(join(root, 'rbm-lab'));
  const [server, port] = await pythonServer(root);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    // Exactly the listed files and the licences: no sources, maps or type declarations.
    assert.deepEqual(listFiles(join(root, 'rbm-lab')), [...SITE_FILES, 'LICENSES.txt'].sort());
    assert.deepEqual(files.sort(), [...SITE_FILES, 'LICENSES.txt'].sort());
    const licences = readFileSync(join(root, 'rbm-lab', 'LICENSES.txt'), 'utf8');
    for (const needed of ['MNIST', 'LeCun', 'uPlot', 'Leon Sorokin', 'Juan Cazala', 'MIT']) assert.ok(licences.includes(needed), needed);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems = [];
    const base = `http://127.0.0.1:${port}/rbm-lab/`;
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    // Every request stays under the sub-path: nothing is fetched from the host's root.
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) problems.push(`request outside ${base}: ${url}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
    });
    await page.goto(`${base}#seed=2&data=bars&side=4`);
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ready'), null, { timeout: 30000 });
    await page.click('#train');
    await page.waitForFunction(() => Number(/step (\d+)/.exec(document.getElementById('status').textContent)?.[1]) >= 200,
      null, { timeout: 60000 });
    await page.click('#train');
    // The MNIST asset loads from the sub-path too.
    await page.goto(`${base}#seed=2`);
    await page.reload();
    await page.waitForFunction(() => /^Ready\. step 0 · epoch 0\.00 of \d+$/.test(document.getElementById('status').textContent)
      && document.getElementById('samples').width >= 28 * 8, null, { timeout: 60000 });
    // The guide works there too: its figures are drawn by the engine.
    await page.goto(`${base}guide.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60000 });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    server.kill();
    rmSync(root, { recursive: true, force: true });
  }
});
