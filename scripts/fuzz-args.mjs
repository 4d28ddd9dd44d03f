// Command-line options shared by the page's fuzzers: --inputs N, --seconds S, --seed X.
export function fuzzOptions(argv = process.argv.slice(2)) {
  const given = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) usage(`unexpected ${argv[i]}`);
    given[argv[i].slice(2)] = argv[i + 1];
  }
  const options = {
    inputs: Number(given.inputs ?? 1_000_000),
    seconds: Number(given.seconds ?? Infinity),
    seed: Number(given.seed ?? 1),
  };
  if (!(options.inputs >= 0 && options.seconds >= 0 && Number.isInteger(options.seed))) {
    usage('--inputs takes a whole number, --seconds a number or Infinity, --seed a whole number');
  }
  return options;
}

function usage(problem) {
  console.error(`${problem}\nusage: node scripts/fuzz-….mjs [--inputs N] [--seconds S] [--seed X]`);
  process.exit(2);
}
