// A mutation fuzzer for the page's PNG reading (www/datainput.js parsePngs: the
// browser's own decoder, then the size checks and thresholding), run in the lab page
// in Debian's Chromium. Usage:
//   node scripts/fuzz-png.mjs [--inputs N] [--seconds S] [--seed X]
// Inputs are PNGs the browser encodes itself (1 x 1 up to 64 x 64, opaque and
// transparent, and one too large) with one to eight mutations: bit flips, bytes set
// to 0x00 or 0xff, the header's width and height set to boundary values, chunks cut
// short, ranges deleted or repeated; half of them with their chunk checksums made
// right again, so the decoder reads into the damage. Each must give either one image of at most
// 64 x 64 with 0/1 pixels, or a refusal that says the file is not a readable image or
// is too large; any other outcome (another exception, a wrong size, a hang) fails.
import { openLab, waitForStatus } from '../tests/page/helpers.mjs';
import { fuzzOptions } from './fuzz-args.mjs';

const { inputs: INPUTS, seconds: SECONDS, seed: SEED } = fuzzOptions();
const BATCH = 2000;

const lab = await openLab({ hash: '#data=bars&side=4' });
let exitCode = 0;
try {
  await waitForStatus(lab.page, ['Ready']);
  const started = performance.now();
  const totals = { done: 0, accepted: 0, refused: 0 };
  while (totals.done < INPUTS && performance.now() - started < SECONDS * 1000) {
    const batch = Math.min(BATCH, INPUTS - totals.done);
    const result = await lab.page.evaluate(async ({ count, seed }) => {
      const { parsePngs } = await import('/www/datainput.js');
      let s = seed >>> 0 || 1;
      const random = () => {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        return s / 4294967296;
      };
      const below = (n) => Math.floor(random() * n);
      if (!globalThis.fuzzPngCorpus) {
        const corpus = [];
        for (const [w, h, alpha] of [[1, 1, false], [5, 4, false], [28, 28, false], [64, 64, true], [3, 65, false], [8, 8, true]]) {
          const canvas = new OffscreenCanvas(w, h);
          const context = canvas.getContext('2d');
          const image = context.createImageData(w, h);
          for (let i = 0; i < image.data.length; i++) image.data[i] = (i % 4 === 3 && !alpha) ? 255 : below(256);
          context.putImageData(image, 0, 0);
          corpus.push(new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer()));
        }
        globalThis.fuzzPngCorpus = corpus;
      }
      const corpus = globalThis.fuzzPngCorpus;
      const mutate = (input) => {
        let out = Array.from(input);
        for (let n = below(2) === 0 ? 1 : 1 + below(8); n > 0; n--) {
          const len = out.length;
          switch (below(7)) {
            case 0: if (len) out[below(len)] ^= 1 << below(8); break;
            case 1: if (len) out[below(len)] = [0, 0xff, 0x7f, 0x80][below(4)]; break;
            case 2: { // IHDR width or height (bytes 16-23) set to a boundary value
              const value = [0, 1, 64, 65, 0x7fffffff, 0xffffffff, 1 << 16][below(7)];
              const at = 16 + 4 * below(2);
              for (let b = 0; b < 4 && at + b < len; b++) out[at + b] = (value >>> (24 - 8 * b)) & 0xff;
              break;
            }
            case 3: out = out.slice(0, below(len + 1)); break;
            case 4: { const a = below(len + 1); out.splice(a, below(64)); break; }
            case 5: { const a = below(len + 1); const piece = out.slice(a, a + below(64)); out.splice(below(out.length + 1), 0, ...piece); break; }
            default: { const a = below(len + 1); out.splice(a, 0, ...Array.from({ length: below(16) }, () => below(256))); }
          }
        }
        return new Uint8Array(out);
      };
      // Half the mutated files get their chunk checksums fixed, so that the decoder
      // reads on into the damaged header and data instead of stopping at the CRC.
      const crcTable = globalThis.fuzzCrcTable ??= Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c >>> 0;
      });
      const fixChecksums = (bytes) => {
        let at = 8;
        while (at + 12 <= bytes.length) {
          const length = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
          const end = at + 8 + length;
          if (end + 4 > bytes.length) break;
          let c = 0xffffffff;
          for (let i = at + 4; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
          c = (c ^ 0xffffffff) >>> 0;
          bytes.set([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff], end);
          at = end + 4;
        }
        return bytes;
      };
      const tally = { done: 0, accepted: 0, refused: 0, failure: null };
      for (let k = 0; k < count; k++) {
        let bytes = k < corpus.length && seed === 1 ? corpus[k] : mutate(corpus[below(corpus.length)]);
        if (below(2) === 0) bytes = fixChecksums(bytes);
        const file = new File([bytes], 'fuzz.png', { type: 'image/png' });
        try {
          const set = await parsePngs([file]);
          const ok = set.count === 1 && set.rows >= 1 && set.cols >= 1 && set.rows <= 64 && set.cols <= 64
            && set.pixels.length === set.rows * set.cols && set.pixels.every((v) => v === 0 || v === 1);
          if (!ok) {
            tally.failure = { problem: `accepted a bad image: ${set.rows} x ${set.cols}, ${set.pixels.length} pixels`, bytes: Array.from(bytes) };
            break;
          }
          tally.accepted += 1;
        } catch (error) {
          if (!/is not an image this browser can read|images must be at most \d+ x \d+$/.test(error?.message)) {
            tally.failure = { problem: `refused without a clear message: ${error?.stack ?? error}`, bytes: Array.from(bytes) };
            break;
          }
          tally.refused += 1;
        }
        tally.done += 1;
      }
      return tally;
    }, { count: batch, seed: SEED + totals.done });
    totals.done += result.done;
    totals.accepted += result.accepted;
    totals.refused += result.refused;
    if (result.failure) {
      console.error(`fuzz-png: ${result.failure.problem}\nbytes: ${JSON.stringify(result.failure.bytes)}`);
      exitCode = 1;
      break;
    }
  }
  if (lab.problems.length) {
    console.error(`fuzz-png: the page reported problems: ${lab.problems.join('\n')}`);
    exitCode = 1;
  }
  const seconds = (performance.now() - started) / 1000;
  if (!exitCode) {
    console.log(`png        ${String(totals.done).padStart(9)} inputs in ${seconds.toFixed(1).padStart(6)} s: ${totals.accepted} accepted, `
      + `${totals.refused} refused with a message, 0 other exceptions`);
  }
} finally {
  await lab.close();
}
process.exit(exitCode);
