// A mutation fuzzer for the page's reader of the URL hash (www/settings.js), run in
// Node against the engine's own table of ranges (the real wasm build, loaded with
// initSync). Usage:
//   node scripts/fuzz-hash.mjs [--inputs N] [--seconds S] [--seed X]
// Each input is a valid address (every data set's defaults, drawn patterns) or one of
// the reliability issue's bad ones, mutated one to eight times: values swapped for
// boundary and malformed numbers, keys dropped, repeated or unknown, characters
// changed, percent-escapes broken, the drawn patterns' side and bits damaged. For
// every input, parseHash must not throw; every value it keeps must lie in the page's
// range (or be a known choice) and the patterns must decode; writing the result back
// with toHash and reading it again must give the same settings with no complaints.
// Beside it, a differential check: the page's rangeProblem and the engine's
// checkPageSetting must agree on every value tried.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, settingLimits, checkPageSetting } from '../www/pkg/rbm_lab.js';
import { fuzzOptions } from './fuzz-args.mjs';
import { SETTINGS, DEFAULTS, applyLimits, rangeProblem, parseHash, toHash, withDefaults, encodePatterns,
  decodePatterns } from '../www/settings.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { inputs: INPUTS, seconds: SECONDS, seed: SEED } = fuzzOptions();
let state = BigInt(SEED) * 0x9e3779b97f4a7c15n + 1n;

/** xorshift64*: seeded, so a failure can be replayed. */
function random() {
  state ^= state >> 12n;
  state ^= (state << 25n) & 0xffffffffffffffffn;
  state ^= state >> 27n;
  return Number(((state * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn) >> 11n) / 2 ** 53;
}
const below = (n) => Math.floor(random() * n);
/** encodeURIComponent, or the text as it is when it holds a lone surrogate. */
function encode(text) {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}
const pick = (list) => list[below(list.length)];

initSync({ module: readFileSync(join(ROOT, 'www/pkg/rbm_lab_bg.wasm')) });
const table = settingLimits();
applyLimits(table);

const NUMBERS = ['0', '1', '-1', '-0', '0.5', '1.7', '2', '5', '5.0000001', '10', '16', '200', '201', '2000', '2001', '20000',
  '65536', '100000', '100001', '4294967295', '4294967296', '1e999', '-1e999', '1e-5', '1e-320', 'NaN', 'Infinity', '-Infinity',
  '', ' ', ' 7 ', '0x10', '0b11', '1_000', '1e3', '1E3', '+5', '.5', '5.', '00012', '9'.repeat(400), '1e21', '%', '%ZZ',
  '%00', '\u0000', 'null', 'undefined', '[]', '{}', 'true', '١٢', 'Ⅻ'];
const KEYS = [...SETTINGS.map((s) => s.key), 'patterns', 'unknown', '', 'data', '__proto__', 'constructor', 'hidden%00'];

function corpus() {
  const hashes = Object.keys(DEFAULTS).map((data) => toHash(withDefaults({ data })));
  for (const side of [2, 5, 8, 16]) {
    const patterns = Array.from({ length: 1 + below(5) }, () => Array.from({ length: side * side }, () => below(2)));
    hashes.push(toHash({ ...withDefaults({ data: 'drawn' }), patterns: encodePatterns(side, patterns) }));
  }
  hashes.push('#spf=100000000', '#patterns=4:A', '#data=drawn&patterns=4:A', '#epochs=0', '#beta=-1', '#beta=10',
    '#hidden=20000', '#lr=1e999', '#data=bars&hidden=65536', '#seed=4294967296', '');
  return hashes;
}

function mutate(hash) {
  let text = hash;
  for (let n = below(2) === 0 ? 1 : 1 + below(8); n > 0; n--) {
    const params = text.replace(/^#/, '').split('&');
    switch (below(9)) {
      case 0: { // a value swapped for a boundary or malformed number
        const k = below(params.length);
        const [key] = params[k].split('=');
        params[k] = `${key}=${encode(pick(NUMBERS))}`;
        text = `#${params.join('&')}`;
        break;
      }
      case 1: // a raw (unescaped) value
        text += `&${pick(KEYS)}=${pick(NUMBERS)}`;
        break;
      case 2: // a key dropped
        params.splice(below(params.length), 1);
        text = `#${params.join('&')}`;
        break;
      case 3: // a key repeated
        text += `&${pick(params)}`;
        break;
      case 4: { // a character changed, inserted or removed
        const at = below(text.length + 1);
        const chars = '#&=%.:-_+/ 0123456789ABCDEFabcdefxyz\u00e9\u{1f600}';
        const ch = chars[below(chars.length)];
        text = below(3) === 0 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + (below(2)));
        break;
      }
      case 5: { // the drawn patterns damaged
        const m = /patterns=([^&]*)/.exec(text);
        if (!m) { text += `&patterns=${below(20)}%3A${'A'.repeat(below(12))}`; break; }
        let value = m[1];
        try {
          value = decodeURIComponent(value);
        } catch { /* already broken: damage it further as it is */ }
        const damaged = pick([
          value.replace(/^\d+/, String(pick([0, 1, 2, 3, 17, 100, 999]))),
          `${value}.${'_'.repeat(below(9))}`,
          value.replace(/[A-Za-z0-9_-]/, pick(['=', '+', '/', '.', '!', 'A'])),
          `${value}${'.AAAA'.repeat(below(600))}`,
          value.slice(0, below(value.length + 1)),
        ]);
        text = text.replace(m[0], `patterns=${encode(damaged)}`);
        break;
      }
      case 6: // a broken percent-escape
        text += pick(['%', '%E0%A4%A', '%ZZ', '%%', '%2']);
        break;
      case 7: // a long repetition
        text += `&${pick(params)}`.repeat(below(200));
        break;
      default: // the data set switched
        text = text.replace(/data=[^&]*/, `data=${pick(['mnist', 'bars', 'drawn', 'loaded', 'x', ''])}`);
    }
  }
  return text;
}

function fail(input, problem) {
  console.error(`fuzz-hash: ${problem}\ninput: ${JSON.stringify(input)}`);
  process.exit(1);
}

function checkHash(input) {
  let parsed;
  try {
    parsed = parseHash(input);
  } catch (error) {
    fail(input, `parseHash threw ${error?.stack ?? error}`);
  }
  const { values } = parsed;
  for (const setting of SETTINGS) {
    const value = values[setting.id];
    if (setting.kind === 'choice') {
      if (!setting.options.includes(value)) fail(input, `${setting.id} = ${value} kept though not a choice`);
    } else if (rangeProblem(setting.id, value) !== null) {
      fail(input, `${setting.id} = ${value} kept though out of range`);
    }
  }
  if (values.patterns !== undefined && decodePatterns(values.patterns).error) fail(input, 'patterns kept though they do not decode');
  const again = parseHash(toHash(values));
  if (again.problems.length) fail(input, `its own hash was refused: ${again.problems.join('; ')}`);
  for (const setting of SETTINGS) {
    if (!Object.is(again.values[setting.id], values[setting.id])) fail(input, `${setting.id} changed in a round trip`);
  }
  return parsed.problems.length === 0;
}

/** The page and the engine must agree on every value of every setting. */
function checkAgreement() {
  const row = pick(table);
  const base = pick([row.page.min, row.page.max, row.engine.min, row.engine.max, 0, 1]);
  const value = pick([base, base + 1, base - 1, base + 1e-9, base - 1e-9, base * (1 + 1e-15), base + 0.5,
    Number(pick(NUMBERS)), random() * 2 * base, -base]);
  const page = rangeProblem(row.id, value) === null;
  let engine = true;
  try {
    checkPageSetting(row.id, value);
  } catch {
    engine = false;
  }
  if (page !== engine) fail(`${row.id} = ${value}`, `the page says ${page ? 'allowed' : 'refused'}, the engine ${engine ? 'allowed' : 'refused'}`);
}

const hashes = corpus();
const started = performance.now();
let done = 0;
let clean = 0;
while (done < INPUTS && performance.now() - started < SECONDS * 1000) {
  const input = done < hashes.length ? hashes[done] : mutate(pick(hashes));
  if (checkHash(input)) clean += 1;
  checkAgreement();
  done += 1;
}
const seconds = (performance.now() - started) / 1000;
console.log(`hash       ${String(done).padStart(9)} inputs in ${seconds.toFixed(1).padStart(6)} s: ${clean} read whole, `
  + `${done - clean} with settings refused by name, 0 exceptions; ${done} page/engine range checks agreed`);
