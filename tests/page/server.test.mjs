// The development server serves exactly the listed site files, refuses everything else
// without crashing, and the list covers every file the page and its modules refer to.
// Needs neither the wasm build nor a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { SITE_FILES, CONTENT_SECURITY_POLICY, sitePathFor } from '../../scripts/site-files.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let server;
let port;

before(async () => {
  server = await startServer(0);
  port = server.address().port;
});
after(() => new Promise((resolve) => server.close(resolve)));

/** Sends the path exactly as given (no client-side normalisation) and reads the answer. */
function raw(path, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({
        status: response.statusCode,
        headers: response.headers,
        body: Buffer.concat(chunks),
      }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function assertSecurityHeaders(response, what) {
  assert.equal(response.headers['content-security-policy'], CONTENT_SECURITY_POLICY, what);
  assert.equal(response.headers['x-content-type-options'], 'nosniff', what);
}

test('the page is served at / and /index.html', async () => {
  for (const path of ['/', '/index.html', '/?x=1']) {
    const response = await raw(path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers['content-type'], /^text\/html/, path);
    assert.equal(response.headers['cache-control'], 'no-cache', path);
    assertSecurityHeaders(response, path);
    assert.match(response.body.toString(), /<html/);
  }
  const main = await raw('/www/main.js');
  assert.equal(main.status, 200);
  assert.match(main.headers['content-type'], /^text\/javascript/);
  assertSecurityHeaders(main, '/www/main.js');
});

test('paths outside the list are 404 and never leak the file', async () => {
  const secrets = [readFileSync(join(ROOT, 'Cargo.toml'), 'utf8').slice(0, 40), '[package]', '[core]', 'pub fn', 'repositoryformatversion'];
  const paths = [
    '/www/..%2f.git%2fconfig',
    '/www/..%2fsrc%2flib.rs',
    '/www/..%2fCargo.toml',
    '/www/../Cargo.toml',
    '/www/%2e%2e/Cargo.toml',
    '/www/%2E%2E%2FCargo.toml',
    '/www/./../Cargo.toml',
    '/Cargo.toml',
    '/src/lib.rs',
    '/.git/config',
    '/../../etc/passwd',
    '/node_modules/playwright-core/package.json',
    '/www/',
    '/www',
    '/www/pkg/rbm_lab.d.ts',
    '/scripts/serve.mjs',
  ];
  for (const path of paths) {
    const response = await raw(path);
    assert.equal(response.status, 404, path);
    assertSecurityHeaders(response, path);
    const body = response.body.toString();
    for (const secret of secrets) assert.ok(!body.includes(secret), `${path} leaked ${secret}`);
  }
});

test('malformed paths are 400 and the server keeps running', async () => {
  for (const path of ['/%E0%A4%A', '/www/%ZZ', '/www/main.js%00', '/www%5cmain.js', '/www\\main.js', '/%']) {
    const response = await raw(path);
    assert.equal(response.status, 400, path);
    assertSecurityHeaders(response, path);
    assert.equal((await raw('/')).status, 200, `after ${path}`);
  }
});

test('only GET and HEAD are allowed', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const response = await raw('/', method);
    assert.equal(response.status, 405, method);
    assert.match(response.headers.allow, /GET/);
    assert.match(response.headers.allow, /HEAD/);
    assertSecurityHeaders(response, method);
  }
  const head = await raw('/index.html', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(Number(head.headers['content-length']), readFileSync(join(ROOT, 'index.html')).length);
});

test('every listed file that exists is served; missing built files say how to build them', async () => {
  assert.ok(Object.isFrozen(SITE_FILES));
  for (const file of SITE_FILES) {
    assert.doesNotMatch(file, /[*?\\]|^\/|\/$|(^|\/)\.\.?(\/|$)/, `${file} must be an exact relative path`);
    assert.equal(sitePathFor(`/${file}`), file);
    const response = await raw(`/${file}`);
    assertSecurityHeaders(response, file);
    if (existsSync(join(ROOT, file))) {
      assert.equal(response.status, 200, file);
      assert.deepEqual(response.body, readFileSync(join(ROOT, file)), file);
      if (file.endsWith('.wasm')) assert.equal(response.headers['content-type'], 'application/wasm');
    } else {
      assert.equal(response.status, 404, file);
      assert.match(response.body.toString(), /\.\/lab serve/, file);
    }
  }
  assert.equal(sitePathFor('/'), 'index.html');
  assert.equal(sitePathFor('/www/..%2fCargo.toml'), null);
  assert.equal(sitePathFor('/%E0%A4%A'), null);
});

/** Relative references in a file, resolved to repository paths; data:, absolute and external URLs skipped. */
function references(file, patterns) {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = [];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      const target = match[1].replace(/[?#].*$/, '');
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue;
      found.push({ target: match[1], resolved: posix.normalize(posix.join(posix.dirname(file), target)) });
    }
  }
  return found;
}

const HTML_REFERENCES = [/\b(?:src|href)\s*=\s*["']([^"']*)["']/g];
const JS_REFERENCES = [
  /\bimport\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bexport\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bnew\s+URL\s*\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
  /\bnew\s+(?:Shared)?Worker\s*\(\s*['"]([^'"]+)['"]/g,
];

test('every file the page and its modules refer to is listed', () => {
  const listed = new Set(SITE_FILES);
  const www = readdirSync(join(ROOT, 'www'));
  const sources = [
    ...SITE_FILES.filter((file) => file.endsWith('.html')),
    ...www.filter((name) => name.endsWith('.html')).map((name) => `www/${name}`),
    ...readdirSync(ROOT).filter((name) => name.endsWith('.html')),
  ];
  const modules = www.filter((name) => name.endsWith('.js')).map((name) => `www/${name}`);
  const unlisted = [];
  const checked = [];
  for (const file of new Set(sources)) {
    if (!existsSync(join(ROOT, file))) continue;
    if (!listed.has(file)) unlisted.push(`${file} (a page)`);
    for (const { target, resolved } of references(file, HTML_REFERENCES)) {
      checked.push(resolved);
      if (!listed.has(resolved)) unlisted.push(`${resolved} (from ${file}: ${target})`);
    }
  }
  for (const file of modules) {
    for (const { target, resolved } of references(file, JS_REFERENCES)) {
      checked.push(resolved);
      if (!listed.has(resolved)) unlisted.push(`${resolved} (from ${file}: ${target})`);
    }
  }
  // Every script and style sheet in www/ belongs on the list, referred to yet or not.
  for (const name of www.filter((name) => /\.(js|mjs|css)$/.test(name))) {
    if (!listed.has(`www/${name}`)) unlisted.push(`www/${name} (in www/)`);
  }
  assert.deepEqual(unlisted, [], 'add these to SITE_FILES in scripts/site-files.mjs');
  // The regexes really found the page's entry points and the worker's assets.
  for (const file of ['www/main.js', 'www/style.css', 'www/worker.js', 'www/pkg/rbm_lab.js', 'www/data/mnist.bin']) {
    assert.ok(checked.includes(file), `expected a reference to ${file}`);
  }
});
