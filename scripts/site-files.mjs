// The one list of the files the lab's pages need, as exact repository-relative paths.
// The development server (scripts/serve.mjs) serves these and nothing else; a later
// guide.html page and a publishable dist/ build will share this same list, so add files
// here, never a glob or a directory. Every new www/*.js module (and www/*.css sheet) must
// be added here too: tests/page/server.test.mjs fails when a page or module refers to a
// file that is not listed, or when www/ holds a script or style sheet that is not.
import { posix } from 'node:path';

export const SITE_FILES = Object.freeze([
  'index.html',
  'guide.html',
  // The page's own modules and style sheet.
  'www/main.js',
  'www/worker.js',
  'www/helpers.js',
  'www/helper.js',
  'www/settings.js',
  'www/charts.js',
  'www/render.js',
  'www/datainput.js',
  'www/engine.js',
  'www/maths.js',
  'www/critic.js',
  'www/usepanel.js',
  'www/storage.js',
  'www/style.css',
  // The guide page's modules and style sheets.
  'www/guide.js',
  'www/guide-tiny.js',
  'www/guide-figures.js',
  'www/guidework.js',
  'www/guide.css',
  'www/figures.css',
  // Third-party code, copied from node_modules by ./lab (vendor_js).
  'www/vendor/uPlot.esm.js',
  'www/vendor/uPlot.min.css',
  // Built by ./lab serve: the engine's five modules (wasm-pack) and the MNIST asset.
  'www/pkg/rbm_lab.js',
  'www/pkg/rbm_lab_bg.wasm',
  'www/pkg/helper.js',
  'www/pkg/helper_bg.wasm',
  'www/pkg/files.js',
  'www/pkg/files_bg.wasm',
  'www/pkg/critic.js',
  'www/pkg/critic_bg.wasm',
  'www/pkg/guide.js',
  'www/pkg/guide_bg.wasm',
  // The fast maths build of the lab and helper modules (relaxed SIMD; www/maths.js).
  'www/pkg/fast/rbm_lab.js',
  'www/pkg/fast/rbm_lab_bg.wasm',
  'www/pkg/fast/helper.js',
  'www/pkg/fast/helper_bg.wasm',
  'www/data/mnist.bin',
]);

/** The Content-Security-Policy every response carries (and the pages' meta tags repeat). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const LISTED = new Set(SITE_FILES);

/**
 * Decodes a request's URL path (as sent, percent-encoded, with or without a query) and
 * normalises it with path.posix.normalize. Returns null when the path is malformed: not
 * starting with "/", a bad percent-escape, or a NUL byte or backslash anywhere.
 */
export function decodeRequestPath(urlPath) {
  if (typeof urlPath !== 'string') return null;
  const raw = urlPath.replace(/[?#].*$/s, '');
  if (!raw.startsWith('/') || raw.includes('\\') || raw.includes('\0')) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (decoded.includes('\\') || decoded.includes('\0')) return null;
  return posix.normalize(decoded);
}

/**
 * Maps a request URL path to the listed file it names ("/" is index.html), or null when
 * it names no listed file (or is malformed). Only an exact match after decoding and
 * normalising counts, so "..", "%2f" and the like can never reach an unlisted file.
 */
export function sitePathFor(urlPath) {
  const path = decodeRequestPath(urlPath);
  if (path === null) return null;
  const file = path === '/' ? 'index.html' : path.slice(1);
  return LISTED.has(file) ? file : null;
}
