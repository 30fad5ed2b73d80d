/**
 * `grassmann-lens` — the command-line face of the core. Argument parsing and printing only:
 * every verb is one call into src/core. Exit codes: 0 success, 1 bad input (one line on stderr
 * naming the file and the problem), 2 usage error.
 */
import { flag, intOption, parseArgs, stringOption, type OptionSpec, type ParsedArgs } from './args';
import { isInputError, UsageError } from '../util/errors';
import { BACKEND_NAMES, defaultNativeModulesDir, describeBackend, type BackendPreference } from '../model/backend';
import { inspectCheckpoint, formatInspectReport } from '../core/inspect';
import { runText, formatRunReport } from '../core/run';
import { evaluateFile } from '../core/evaluate';
import { installNativeBackend } from '../core/installNative';
import { distancesOfText, featuresOfText, formatDistancesReport, formatFeaturesReport, parseMetric } from '../core/features';
import { compareCheckpoints, driftOfCheckpoints, formatCompareReport, formatDriftReport } from '../core/drift';
import { GRASSMANN_METRICS } from '../geometry/angles';
import { startBackend } from '../core/operations';

const USAGE = `Usage: grassmann-lens <command> [options]

Commands:
  inspect <ckpt> [--config C] [--json]
      Format, architecture, tensor shapes, parameter count, metadata and warnings.
  run <ckpt> (--text T | --file F) [--config C] [--tokenizer DIR] [--backend B]
      [--dump OUT.safetensors] [--json]
      Tokens, ids and the top-5 next tokens per position; --dump writes every
      intermediate (tap) of the forward pass.
  eval <ckpt> --data F [--seq-len N] [--config C] [--tokenizer DIR] [--backend B] [--json]
      Perplexity: the whole file encoded once, cut into non-overlapping chunks of
      seq-len tokens (default: the model's position table), remainder dropped.
  features <ckpt> (--text T | --file F) [--layer L] [--window D] [--config C]
      [--tokenizer DIR] [--backend B] [--json]
      Per token plane (layer L, offset D; default all): Plücker area, degenerate flag,
      Plücker-relation residual, each offset's contribution to g and share of it;
      per token: gate openness alpha and the h/g balance of the blend. With --layer
      and --window, --json adds p_hat and alpha per dimension.
  distances <ckpt> (--text T | --file F) --layer L --window D [--metric M] [--config C]
      [--tokenizer DIR] [--backend B] [--json]
      Distances between the token planes of one layer and offset on Gr(2, r):
      {metric, positions, matrix, angles}; M: ${GRASSMANN_METRICS.join(', ')}
      (default geodesic). null in --json: a degenerate plane (or an infinite Martin distance).
  drift <ckpt> <ckpt>... | <folder> [--all-subspaces] [--config C] [--json]
      How the weights move across checkpoints of one run (ordered by their epoch
      metadata, else by name): relative change of every tensor and principal angles
      between W_red row spaces (--all-subspaces: every non-square weight), from each
      checkpoint to the next and to the last.
  compare <ckptA> <ckptB> [--tensor NAME [--with NAME_B]] [--config C] [--json]
      Two models: per layer, principal angles between their W_red row spaces
      (basis-independent), every layer of A against every layer of B, and the spectra
      of W_red and W_plu; --tensor compares one weight's row and column spaces.
  backend [--backend B] [--json]
      Which compute backend would run, and why the faster ones are unavailable.
  install-gpu [--cpu] [--dir D]
      Install @tensorflow/tfjs-node-gpu (CUDA) — or with --cpu @tensorflow/tfjs-node —
      into D (default ${defaultNativeModulesDir()}); later runs pick it up.

Common options:
  --backend auto|${BACKEND_NAMES.join('|')}   (default auto: fastest available)
  --native-dir D   where native TensorFlow packages were installed
  --debug          print stack traces
  --help`;

const COMMON: Record<string, OptionSpec> = {
  json: { value: false }, debug: { value: false }, help: { value: false },
  config: { value: true }, tokenizer: { value: true }, backend: { value: true }, 'native-dir': { value: true },
};
const SPECS: Record<string, Record<string, OptionSpec>> = {
  inspect: COMMON,
  run: { ...COMMON, text: { value: true }, file: { value: true }, dump: { value: true } },
  eval: { ...COMMON, data: { value: true }, 'seq-len': { value: true } },
  features: { ...COMMON, text: { value: true }, file: { value: true }, layer: { value: true }, window: { value: true } },
  distances: { ...COMMON, text: { value: true }, file: { value: true }, layer: { value: true }, window: { value: true }, metric: { value: true } },
  drift: { ...COMMON, 'all-subspaces': { value: false } },
  compare: { ...COMMON, tensor: { value: true }, with: { value: true } },
  backend: COMMON,
  'install-gpu': { ...COMMON, cpu: { value: false }, dir: { value: true } },
};

function backendOption(args: ParsedArgs): BackendPreference {
  const b = stringOption(args, 'backend') ?? 'auto';
  if (b !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(b)) {
    throw new UsageError(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}; got '${b}'`);
  }
  return b as BackendPreference;
}

function onePositional(args: ParsedArgs, what: string): string {
  if (args.positionals.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${args.positionals.length}`);
  return args.positionals[0];
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const spec = SPECS[command];
  if (!spec) throw new UsageError(`unknown command '${command}'`);
  const args = parseArgs(rest, spec);
  if (flag(args, 'help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const json = flag(args, 'json');
  const nativeModulesDir = stringOption(args, 'native-dir');
  const config = stringOption(args, 'config');
  const tokenizer = stringOption(args, 'tokenizer');
  const wasmDir = __dirname;

  switch (command) {
    case 'inspect': {
      const report = await inspectCheckpoint(onePositional(args, 'checkpoint'), { config });
      print(json, report, () => formatInspectReport(report));
      return 0;
    }
    case 'backend': {
      const report = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      print(json, report, () => describeBackend(report));
      return 0;
    }
    case 'run': {
      const ckpt = onePositional(args, 'checkpoint');
      const text = stringOption(args, 'text');
      const file = stringOption(args, 'file');
      if ((text === undefined) === (file === undefined)) throw new UsageError('run needs exactly one of --text or --file');
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await runText(ckpt, { text, file, config, tokenizer, dump: stringOption(args, 'dump'), backend });
      print(json, report, () => formatRunReport(report));
      return 0;
    }
    case 'eval': {
      const ckpt = onePositional(args, 'checkpoint');
      const data = stringOption(args, 'data');
      if (data === undefined) throw new UsageError('eval needs --data FILE');
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await evaluateFile(ckpt, { data, seqLen: intOption(args, 'seq-len'), config, tokenizer, backend });
      print(json, report, () =>
        `mean_nll ${report.mean_nll.toFixed(6)}\nperplexity ${report.perplexity.toFixed(4)}\nchunks ${report.chunks} x ${report.seq_len} tokens (${report.tokens_dropped} dropped)\nbackend ${report.backend}`);
      return 0;
    }
    case 'features':
    case 'distances': {
      const ckpt = onePositional(args, 'checkpoint');
      const text = stringOption(args, 'text');
      const file = stringOption(args, 'file');
      if ((text === undefined) === (file === undefined)) throw new UsageError(`${command} needs exactly one of --text or --file`);
      const layer = intOption(args, 'layer', 0);
      const window = intOption(args, 'window', 1);
      if (command === 'features') {
        const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
        const report = await featuresOfText(ckpt, { text, file, config, tokenizer, layer, window, backend });
        print(json, report, () => formatFeaturesReport(report));
        return 0;
      }
      if (layer === undefined || window === undefined) throw new UsageError('distances needs --layer L and --window D');
      const metric = parseMetric(stringOption(args, 'metric'));
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await distancesOfText(ckpt, { text, file, config, tokenizer, layer, window, metric, backend });
      print(json, report, () => formatDistancesReport(report));
      return 0;
    }
    case 'drift': {
      const report = await driftOfCheckpoints({ paths: args.positionals, config, allSubspaces: flag(args, 'all-subspaces') });
      print(json, report, () => formatDriftReport(report));
      return 0;
    }
    case 'compare': {
      if (args.positionals.length !== 2) throw new UsageError(`compare needs two checkpoints, got ${args.positionals.length}`);
      const [a, b] = args.positionals;
      const tensor = stringOption(args, 'tensor');
      const other = stringOption(args, 'with');
      if (other !== undefined && tensor === undefined) throw new UsageError('--with names the tensor of B to compare with --tensor');
      const report = await compareCheckpoints({ a, b, config, tensor, with: other });
      print(json, report, () => formatCompareReport(report));
      return 0;
    }
    case 'install-gpu': {
      if (args.positionals.length) throw new UsageError('install-gpu takes no positional arguments');
      return installNativeBackend({ gpu: !flag(args, 'cpu'), dir: stringOption(args, 'dir') ?? nativeModulesDir ?? defaultNativeModulesDir() });
    }
  }
  return 2;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const debug = argv.includes('--debug');
    if (e instanceof UsageError) {
      process.stderr.write(`grassmann-lens: ${e.message}\nRun 'grassmann-lens --help' for usage.\n`);
      process.exitCode = 2;
    } else if (isInputError(e)) {
      process.stderr.write(`grassmann-lens: ${e.message}\n${debug && e.stack ? e.stack + '\n' : ''}`);
      process.exitCode = 1;
    } else {
      const err = e as Error;
      process.stderr.write(`grassmann-lens: internal error: ${err?.message ?? String(e)}\n${debug ? (err?.stack ?? '') + '\n' : '(run with --debug for the stack trace)\n'}`);
      process.exitCode = 70;
    }
  },
);
