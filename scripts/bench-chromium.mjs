// The benchmark scripts' browser: headless Chromium (the system's, or $CHROMIUM) and the
// lab's own server (serve.mjs) on a free port. `close()` shuts both.
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

export async function benchBrowser() {
  const server = await startServer(0);
  try {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const close = async () => {
      await browser.close();
      server.close();
    };
    return { browser, origin: `http://127.0.0.1:${server.address().port}`, close };
  } catch (error) {
    server.close();
    throw error;
  }
}
