// Another browser: Debian's Firefox ESR driven through geckodriver (W3C WebDriver, by
// the Selenium project's bindings). The page loads, builds MNIST, learns the critics
// (a second engine module), trains bars and stripes and pauses, with no error shown;
// with relaxed SIMD turned off, fast maths falls back to the deterministic build. (The engine's own browser tests run in
// Firefox too: `wasm-pack test --firefox`, from ./lab test.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Builder, By, until } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import { startServer } from '../../scripts/serve.mjs';

const which = (name) => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();

/** Runs `body(driver, origin)` in a headless Firefox ESR with `preferences` set. */
async function withFirefox(body, preferences = {}) {
  const server = await startServer(0);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const options = new firefox.Options().setBinary(process.env.FIREFOX ?? which('firefox-esr')).addArguments('-headless');
  for (const [name, value] of Object.entries(preferences)) options.setPreference(name, value);
  options.windowSize({ width: 1280, height: 900 });
  const driver = await new Builder()
    .forBrowser('firefox')
    .setFirefoxOptions(options)
    .setFirefoxService(new firefox.ServiceBuilder(process.env.GECKODRIVER ?? which('geckodriver')))
    .build();
  try {
    await body(driver, origin);
  } finally {
    await driver.quit();
    await new Promise((resolve) => server.close(resolve));
  }
}

const statusText = (driver) => driver.executeScript("return document.getElementById('status').textContent");
/** Waits until the status line matches `pattern`; fails with what it said instead. */
async function waitForStatus(driver, pattern, timeout = 60000) {
  try {
    await driver.wait(async () => pattern.test(await statusText(driver)), timeout);
  } catch {
    assert.fail(`status never matched ${pattern}: ${await statusText(driver)}`);
  }
}
const step = async (driver) => Number(/step (\d+)/.exec(await statusText(driver))?.[1] ?? NaN);

/** From now on, records the page's uncaught errors (WebDriver has no console log in Firefox). */
const watchErrors = (driver) => driver.executeScript("window.caughtErrors = []; "
  + "addEventListener('error', (e) => caughtErrors.push(String(e.message))); "
  + "addEventListener('unhandledrejection', (e) => caughtErrors.push(String(e.reason)));");

/** No error on the message line, and the errors the page caught (its window.onerror). */
async function assertNoErrors(driver) {
  const message = await driver.executeScript(
    "const m = document.getElementById('message'); return m.hidden ? '' : m.dataset.kind + ': ' + m.textContent");
  assert.ok(!message.startsWith('error'), message);
  assert.deepEqual(await driver.executeScript('return window.caughtErrors ?? []'), []);
}

test('Firefox ESR: the lab loads MNIST and the critics, trains bars and stripes, pauses, with no error', async () => {
  await withFirefox(async (driver, origin) => {
    await driver.get(`${origin}/#seed=1`);
    await watchErrors(driver);
    // MNIST's defaults: the 64 chains drawn as 28 x 28 pictures.
    await waitForStatus(driver, /^Ready\. step 0 · epoch 0\.00 of \d+$/);
    assert.ok(await driver.executeScript("return document.getElementById('samples').width") >= 28 * 8);
    // The critics learn on load, in the engine's critic module: a second wasm module
    // that the worker imports when first asked (src/wasm/mod.rs).
    await driver.wait(async () => /attributed to the right critic/.test(
      await driver.executeScript("return document.getElementById('critic-status').textContent")), 30000);
    await assertNoErrors(driver);

    await driver.get(`${origin}/#seed=1&data=bars&side=4&epochs=100000`);
    await driver.navigate().refresh();
    await watchErrors(driver);
    await waitForStatus(driver, /^Ready\. step 0 /);
    await driver.findElement(By.id('train')).click();
    await driver.wait(async () => (await step(driver)) >= 200, 60000);
    await driver.findElement(By.id('train')).click();
    await waitForStatus(driver, /^(Paused|Training paused)/, 10000);
    const paused = await step(driver);
    await driver.sleep(500);
    assert.equal(await step(driver), paused, 'training went on after Pause');
    // The exact log-likelihood was charted, and the samples are not blank.
    const points = await driver.wait(until.elementLocated(By.id('chart-likelihood'))).getAttribute('data-points');
    assert.ok(Number(points) > 0, `${points} likelihood points`);
    const spread = await driver.executeScript(`const c = document.getElementById('samples');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
      return hi - lo;`);
    assert.ok(spread > 100, `the samples are blank (spread ${spread})`);
    await assertNoErrors(driver);
  });
});

// Firefox ESR runs relaxed SIMD; with its preference off it is a browser that does not,
// as older ones are. Fast maths asked for there falls back to the deterministic build.
test('Firefox ESR without relaxed SIMD: fast maths falls back to the deterministic build, says so, and trains', async () => {
  await withFirefox(async (driver, origin) => {
    await driver.get(`${origin}/#seed=3&maths=fast`);
    await watchErrors(driver);
    await waitForStatus(driver, /^Ready\. step 0 /);
    const notice = await driver.executeScript("return document.getElementById('notice-text').textContent");
    assert.match(notice, /Fast maths needs relaxed SIMD, which this browser does not run/);
    assert.equal(await driver.executeScript("return document.getElementById('maths').value"), 'deterministic');
    assert.match(await driver.executeScript('return location.hash'), /maths=deterministic/);
    // Only the deterministic build was fetched (the fast one would not even compile here).
    const fetched = await driver.executeScript(
      "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)");
    assert.ok(!fetched.some((path) => path.startsWith('/www/pkg/fast/')), fetched.join(', '));
    await driver.findElement(By.id('train')).click();
    await driver.wait(async () => (await step(driver)) >= 20, 60000);
    assert.doesNotMatch(await statusText(driver), /fast maths/);
    await assertNoErrors(driver);
  }, { 'javascript.options.wasm_relaxed_simd': false });
});
