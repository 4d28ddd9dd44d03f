// Shared set-up for the page tests: the lab's own static server and Debian's Chromium
// driven by playwright-core (which gives each launch a fresh, empty profile), with
// every console error and off-origin request recorded.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

export async function openLab({ width = 1280, height = 900, hash = '', touch = false, reducedMotion = 'no-preference', permissions = [] } = {}) {
  const server = await startServer(0);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync',
    ],
  }).catch((error) => {
    server.close();
    throw error;
  });
  // One context: more pages opened in it (openPage) share its storage, as tabs do.
  const context = await browser.newContext({ viewport: { width, height }, hasTouch: touch, reducedMotion });
  if (permissions.length) await context.grantPermissions(permissions, { origin });
  // Every download link the page clicks, by file name (saveModel tells a page that
  // started no download from a browser that did not report one).
  await context.addInitScript(() => {
    const click = HTMLAnchorElement.prototype.click;
    window.labDownloadLinks = [];
    HTMLAnchorElement.prototype.click = function recordedClick() {
      if (this.download) window.labDownloadLinks.push(this.download);
      return click.call(this);
    };
  });
  const problems = [];
  // The path of every request of the lab's origin, the workers' among them.
  const requests = [];
  context.on('request', (request) => {
    if (request.url().startsWith(origin)) requests.push(new URL(request.url()).pathname);
  });
  const openPage = async (pageHash) => {
    const opened = await context.newPage();
    opened.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    opened.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    opened.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) {
        problems.push(`request left the origin: ${request.url()}`);
      }
    });
    await opened.goto(`${origin}/${pageHash}`);
    return opened;
  };
  const page = await openPage(hash);
  return {
    page,
    origin,
    context,
    problems,
    requests,
    /** Another tab of the same browser profile (it shares the saved runs). */
    openPage,
    async screenshot(name) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A hash of a canvas's pixels, to tell whether it changed. */
export function canvasSignature(page, selector) {
  return page.$eval(selector, (canvas) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 2166136261;
    for (let i = 0; i < data.length; i += 4) h = Math.imul(h ^ data[i], 16777619);
    return `${canvas.width}x${canvas.height}:${h >>> 0}`;
  });
}

/**
 * Waits until the status line or the message line under it starts with one of
 * `prefixes` (errors and notes go to the message line, the run's state to the status).
 */
export function waitForStatus(page, prefixes, timeout = 30000) {
  return page.waitForFunction(
    (wanted) => ['status', 'message'].some((id) => {
      const element = document.getElementById(id);
      return !element.hidden && wanted.some((p) => element.textContent.startsWith(p));
    }),
    prefixes,
    { timeout },
  );
}

/** The message line's text (errors and notes), or '' when it is hidden. */
export function messageText(page) {
  return page.$eval('#message', (element) => (element.hidden ? '' : element.textContent));
}

/** The number in the status line after `word` ("step 12" -> 12). */
export async function statusNumber(page, word) {
  const text = await page.textContent('#status');
  const match = new RegExp(`${word} ([\\d.]+)`).exec(text);
  return match ? Number(match[1]) : NaN;
}

/**
 * Opens the lab, waits for it to be ready, runs `body(lab)`, then asserts that the page
 * logged no console error and made no request outside its origin; always closes.
 */
export async function withLab(options, body) {
  const lab = await openLab(options);
  try {
    await waitForStatus(lab.page, ['Ready']);
    await body(lab);
    assert.deepEqual(lab.problems, []);
  } finally {
    await lab.close();
  }
}

/**
 * Clicks `selector` (Save, or an export button) and returns the downloaded file's
 * `{ name, bytes }`. Once, in a CI run, Chromium reported no download within 30 s of
 * Save on a reloaded page, and the failure said nothing more. So when no download
 * arrives within 30 s this reads what the page shows and whether it clicked a download
 * link: a page that started no download fails at once with what it showed; a page
 * that did (the browser's part went missing) is logged and the button clicked once more.
 */
export async function downloaded(page, selector) {
  for (let attempt = 1; ; attempt += 1) {
    const linksBefore = await page.evaluate(() => window.labDownloadLinks.length);
    const [outcome] = await Promise.all([
      page.waitForEvent('download', { timeout: 30000 }).then((download) => ({ download }), (error) => ({ error })),
      page.click(selector),
    ]);
    if (outcome.download) {
      const chunks = [];
      for await (const chunk of await outcome.download.createReadStream()) chunks.push(chunk);
      return { name: outcome.download.suggestedFilename(), bytes: Buffer.concat(chunks) };
    }
    const shown = await page.evaluate(() => ({
      links: window.labDownloadLinks.length,
      ...Object.fromEntries(['status', 'message', 'notice'].map((id) => {
        const element = document.getElementById(id);
        return [id, element.hidden ? '(hidden)' : element.textContent.trim().replace(/\s+/g, ' ')];
      })),
    }));
    const what = `status "${shown.status}", message "${shown.message}", notice "${shown.notice}"`;
    const linkClicked = shown.links > linksBefore;
    if (!linkClicked || attempt === 2) {
      throw new Error(`${selector} gave no download (${outcome.error.message.split('\n')[0]}); the page ${linkClicked ? 'clicked its download link' : 'clicked no download link'}; ${what}`);
    }
    console.log(`${selector}: the page clicked its download link but the browser reported no download in 30 s; clicking again (${what})`);
  }
}

/** Clicks Save and returns the model file's `{ name, text }` (see `downloaded`). */
export async function saveModel(page) {
  const { name, bytes } = await downloaded(page, '#save');
  return { name, text: bytes.toString('utf8') };
}

/** Types a value and leaves the field, as a person does: one native change event. */
export async function setValue(page, id, value) {
  await page.fill(`#${id}`, value);
  await page.press(`#${id}`, 'Tab');
}
