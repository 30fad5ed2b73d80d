/**
 * `npm run study`: the reproducible pruning study of src/pruning/study.ts on the tiny-grassmann
 * fixture (or --checkpoint/--data): every criterion of PRUNE_CRITERIA that applies to FFN units
 * and `random` with several seeds, mask mode, rates 0.1-0.5, 95% bootstrap intervals; the units
 * are scored on the end of the text and evaluated on the rest. Writes study.json, study.csv and
 * study.svg into --out (default study/ at the repo root) and prints the table.
 *
 *   npm run study -- [--out DIR] [--seeds N] [--bootstrap B] [--seed S] [--rates 0.1,0.2,...]
 *     [--checkpoint CKPT] [--data TEXT] [--seq-len N] [--reference-samples N]
 *     [--reference-fraction F] [--keep-checkpoints] [--backend B] [--config C] [--arch A]
 *     [--tokenizer T] [--json]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flag, intOption, parseArgs, stringOption } from '../src/cli/args';
import { initBackend, BACKEND_NAMES, type BackendPreference } from '../src/model/backend';
import { formatStudy, runStudy, STUDY_DEFAULTS } from '../src/pruning/study';
import { UsageError } from '../src/util/errors';

const root = resolve(__dirname, '..');
const D = STUDY_DEFAULTS;
const USAGE = `Usage: npm run study -- [options]
  --out DIR               output folder (default study/ at the repo root; an earlier study there is replaced)
  --checkpoint CKPT       model (default test/fixtures/tiny-grassmann/checkpoints/best.pt)
  --data TEXT             text to split into evaluation and reference parts (default the fixture's eval.txt)
  --seeds N               random criterion seeds S..S+N-1 (default ${D.seeds})
  --bootstrap B           bootstrap resamples (default ${D.bootstrap})
  --seed S                first random seed and the bootstrap seed (default ${D.seed})
  --rates R,R,...         pruning rates (default ${D.rates.join(',')})
  --seq-len N             evaluation and reference chunk length (default min(${D.seqLen}, position table))
  --reference-samples N   reference chunks the units are scored on (default ${D.referenceSamples})
  --reference-fraction F  share of the text, at its end, for the reference part (default ${D.referenceFraction})
  --keep-checkpoints      keep every step's checkpoint (default: only the numbers)
  --backend B, --config C, --arch A, --tokenizer T, --json`;
const fixture = join(root, 'test', 'fixtures', 'tiny-grassmann');

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    out: { value: true }, seeds: { value: true }, bootstrap: { value: true }, seed: { value: true }, rates: { value: true },
    checkpoint: { value: true }, data: { value: true }, 'seq-len': { value: true }, 'reference-samples': { value: true },
    'reference-fraction': { value: true }, 'keep-checkpoints': { value: false }, backend: { value: true }, config: { value: true },
    arch: { value: true }, tokenizer: { value: true }, json: { value: false }, help: { value: false },
  });
  if (flag(args, 'help') || args.positionals.length) {
    console.log(USAGE);
    return args.positionals.length ? 2 : 0;
  }
  const rates = stringOption(args, 'rates')?.split(',').map((r) => {
    const n = Number(r.trim());
    if (!(n > 0 && n < 1)) throw new UsageError(`--rates takes rates between 0 and 1 like 0.1,0.3; got '${r}'`);
    return n;
  });
  const fraction = stringOption(args, 'reference-fraction');
  const referenceFraction = fraction === undefined ? undefined : Number(fraction);
  if (referenceFraction !== undefined && !(referenceFraction > 0 && referenceFraction < 1)) throw new UsageError(`--reference-fraction must be between 0 and 1, got '${fraction}'`);
  const backendName = (stringOption(args, 'backend') ?? 'auto') as BackendPreference;
  if (backendName !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(backendName)) throw new UsageError(`--backend must be auto or one of ${BACKEND_NAMES.join(', ')}`);
  // The bundle's dist/ has the threaded wasm build (npm run study builds it first); else the package's.
  const wasmDir = existsSync(join(root, 'dist', 'tfjs-backend-wasm-threaded-simd.js')) ? join(root, 'dist') : join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const backend = await initBackend({ preference: backendName, wasmDir });
  const json = flag(args, 'json');
  const report = await runStudy({
    checkpoint: stringOption(args, 'checkpoint') ?? join(fixture, 'checkpoints', 'best.pt'),
    data: stringOption(args, 'data') ?? join(fixture, 'eval.txt'),
    out: stringOption(args, 'out') ?? join(root, 'study'),
    seeds: intOption(args, 'seeds'),
    bootstrap: intOption(args, 'bootstrap'),
    seed: intOption(args, 'seed', 0),
    rates,
    seqLen: intOption(args, 'seq-len', 2),
    referenceSamples: intOption(args, 'reference-samples'),
    referenceFraction,
    keepCheckpoints: flag(args, 'keep-checkpoints'),
    config: stringOption(args, 'config'),
    arch: stringOption(args, 'arch'),
    tokenizer: stringOption(args, 'tokenizer'),
    backend,
    log: json ? undefined : (line) => console.error(line),
  });
  console.log(json ? JSON.stringify(report, null, 1) : formatStudy(report));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error;
    console.error(`study: ${err instanceof UsageError || err instanceof RangeError ? err.message : err.stack ?? err.message}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
