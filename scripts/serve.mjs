// A static file server for the lab, bound to 127.0.0.1 only. Usage:
//   node scripts/serve.mjs [port]        (port 0 picks a free one)
// It prints "serving http://127.0.0.1:PORT/" once listening. Page tests import startServer().
// It serves exactly the files listed in scripts/site-files.mjs and nothing else.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENT_SECURITY_POLICY, decodeRequestPath, sitePathFor } from './site-files.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.bin': 'application/octet-stream',
};
const COMMON_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

function answer(request, response, status, body, headers = {}) {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(`${body}\n`);
  response.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': data.length,
    ...headers,
  });
  response.end(request.method === 'HEAD' ? undefined : data);
}

async function handle(request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    answer(request, response, 405, 'method not allowed', { allow: 'GET, HEAD' });
    return;
  }
  if (decodeRequestPath(request.url) === null) {
    answer(request, response, 400, 'bad request');
    return;
  }
  const file = sitePathFor(request.url);
  if (file === null) {
    answer(request, response, 404, 'not found');
    return;
  }
  const fullPath = join(ROOT, ...file.split('/'));
  let body;
  try {
    if (!(await stat(fullPath)).isFile()) throw new Error('not a file');
    body = await readFile(fullPath);
  } catch {
    answer(request, response, 404, `not found: ${file} is not built yet; run ./lab serve`);
    return;
  }
  answer(request, response, 200, body, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
  });
}

export function startServer(port = 0) {
  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      console.error(`serve: ${request.method} ${request.url}: ${error?.stack ?? error}`);
      try {
        if (!response.headersSent) answer(request, response, 500, 'internal error');
        else response.destroy();
      } catch {
        response.destroy();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.argv[2] ?? 8000));
  console.log(`serving http://127.0.0.1:${server.address().port}/`);
}
