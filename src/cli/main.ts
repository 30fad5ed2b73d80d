/**
 * `grassmann-lens` — the command-line face of the core. Argument parsing and printing only:
 * every verb is one call into src/core. Exit codes: 0 success, 1 bad input (one line on stderr
 * naming the file and the problem), 2 usage error.
 */
import { flag, integerOption, intOption, parseArgs, stringOption, type OptionSpec, type ParsedArgs } from './args';
import { isInputError, UsageError } from '../util/errors';
import { jsonTerminalSafe, terminalSafe, terminalSafeLines } from '../util/safeText';
import { BACKEND_NAMES, defaultNativeModulesDir, describeBackend, releaseBackend, type BackendPreference } from '../model/backend';
import { inspectCheckpoint } from '../core/inspect';
import { inspectReportText } from '../core/reportText';
import { describeArchitecture, formatDescribeArchReport } from '../core/describeArch';
import { runText, formatRunReport } from '../core/run';
import { evaluateFile } from '../core/evaluate';
import { installNativeBackend } from '../core/installNative';
import { distancesOfText, featuresOfText, formatDistancesReport, formatFeaturesReport, parseMetric } from '../core/features';
import { compareCheckpoints, driftOfCheckpoints, formatCompareReport, formatDriftReport } from '../core/drift';
import { compareOnText, formatCompareTextReport } from '../core/compareText';
import { GRASSMANN_METRICS, METRIC_FORMULAS } from '../geometry/angles';
import { startBackend } from '../worker/operations';
import type { Cancellation, Progress } from '../core/cancellation';
import { formatRelevanceReport, relevanceOfText } from '../core/relevance';
import { checkPruneParams, pruneSweep, type PruneParams } from '../pruning/sweep';
import { formatPruneReport } from '../pruning/report';
import { PRUNE_CRITERIA, PRUNE_UNITS, type PruneCriterion, type RelevanceOptions } from '../relevance/types';
import { parseRuleOverrides, RULE_COMPOSITE_NAMES } from '../relevance/rules';

const USAGE = `Usage: grassmann-lens <command> [options]

Commands:
  inspect <ckpt> [--config C] [--arch A] [--json]
      Format, architecture (and the description it follows), tensor shapes,
      parameter count, metadata and warnings.
  describe-arch <ckpt> [--out F] [--force] [--config C] [--json]
      Write a pre-filled architecture description (default: grassmann-lens.arch.json
      beside the checkpoint; an existing file is kept unless --force) for a model of
      your own implementation: roles matched to tensors by shape and name, the
      built-in description if one fits, and in "undecided" what it could not tell
      (block layout, mixing output, aggregation, which LayerNorm is which, ...).
  run <ckpt> (--text T | --file F) [--config C] [--tokenizer DIR] [--backend B]
      [--dump OUT.safetensors] [--json]
      Tokens, ids and the top-5 next tokens per position; --dump writes every
      intermediate (tap) of the forward pass.
  eval <ckpt> --data F [--seq-len N] [--config C] [--tokenizer DIR] [--backend B] [--json]
      Perplexity: the whole file encoded once, cut into non-overlapping chunks of
      seq-len tokens (2..the model's position table, the default), remainder dropped.
  features <ckpt> (--text T | --file F) [--layer L] [--window D] [--config C]
      [--tokenizer DIR] [--backend B] [--json]
      Per token plane (layer L, offset D; default all): Plücker area, degenerate flag,
      Plücker-relation residual, each offset's contribution to g and share of it;
      per token: gate openness alpha and the h/g balance of the blend. With --layer
      and --window, --json adds p_hat and alpha per dimension.
  distances <ckpt> (--text T | --file F) --layer L --window D [--metric M] [--config C]
      [--tokenizer DIR] [--backend B] [--json]
      Distances between the token planes of one layer and offset on Gr(2, r):
      {metric, positions, matrix, angles}; null in --json: a degenerate plane (or an
      infinite Martin distance). M, from the principal angles theta (default geodesic):
${GRASSMANN_METRICS.map((m) => `        ${m.padEnd(13)} ${METRIC_FORMULAS[m]}`).join('\n')}
      chordal is the Procrustes distance; ||sin theta||_2, the chordal distance of
      Conway, Hardin and Sloane, is projection here.
  drift <ckpt> <ckpt>... | <folder> [--all-subspaces] [--config C] [--json]
      How the weights move across checkpoints of one run (ordered by their epoch
      metadata, else by name): relative change of every tensor and principal angles
      between W_red row spaces (--all-subspaces: every non-square weight), from each
      checkpoint to the next and to the last.
  compare <ckptA> <ckptB> [--tensor NAME [--with NAME_B]] [--text T | --file F]
      [--config C] [--tokenizer DIR] [--backend B] [--json]
      Two models: per layer, principal angles between their W_red row spaces
      (basis-independent), every layer of A against every layer of B, and the spectra
      of W_red and W_plu; --tensor compares one weight's row and column spaces.
      --text/--file also runs the text through both (they must share the tokenizer):
      per token, plane area per layer x offset, gate openness per layer and input
      relevance (as 'features' and 'relevance' give them) in A and B and B - A, with
      the mean |B - A| per layer (--json: the 'text' part).
  relevance <ckpt> (--text T | --file F) [--position P [--token-id K]]
      [--rule epsilon|zplus|gamma] [--epsilon E] [--gamma G] [--gate signal-take-all|half]
      [--start logit|unit] [--composite uniform|epsilon-gamma|epsilon-plus]
      [--rule-for WHERE=RULE]... [--epsilon-at every-denominator|linear-maps]
      [--config C] [--tokenizer DIR] [--backend B] [--json]
      Layer-wise relevance propagation from the true next token at every position (or
      from one logit): relevance per input token, per FFN neuron, reduced dimension of z,
      Plücker pair, window offset, gate dimension and layer, and the signed account
      start = input + biases + eps + rounding, per stage and per bias. --composite picks the
      rule per block (epsilon-gamma: gamma in the lower half, epsilon above and at the head);
      --rule-for overrides sites: head, layers:N[-M][/MAP+MAP] or MAP+MAP, MAP one of
      lm_head, ffn.out, ffn.in, W_gate, W_plu, W_red (e.g. layers:0-1=gamma). --epsilon-at
      linear-maps puts eps only in the linear maps (textbook); the default also stabilises
      sums and LayerNorm rules.
  prune <ckpt> --data F [--reference F2 | --reference-split S] [--criterion C]... [--units ffn|reduced|windows]
      [--rates 0.1,0.3,0.5] [--mode structural|mask] [--scope global|per-layer]
      [--reference-samples N] [--seq-len N] [--seed S] [--bootstrap B] [--rule R] [--gate G] [--composite C]
      [--rule-for WHERE=RULE]... [--epsilon-at P] [--out DIR]
      [--config C] [--tokenizer DIR] [--backend B] [--json]
      Pruning by explaining: score units with each criterion C (lrp = |relevance|,
      lrp-signed, magnitude, gradient, taylor = |a·dLoss/da|, taylor-logit, wina, random;
      default lrp,magnitude,taylor, for windows lrp,gradient,taylor; scores are divided by
      their layer's sum of |score|, lowest removed first) on N chunks of the reference
      text F2 (default: the data file itself, which is not held out and warns; with
      --reference-split S, e.g. 0.25, the first S of F, cut at the next line end, scores
      and only the rest of F evaluates), remove the lowest at each rate, write each pruned
      checkpoint under DIR/<criterion>-<rate>/ and evaluate it on F like 'eval'
      (perplexity, top-1 accuracy). structural: a smaller model.safetensors + config.json;
      mask: zeroed units, same shapes, plus model.pt for load_state_dict. Every number has
      a 95% percentile-bootstrap interval: B (default 1000) resamples of the evaluation
      chunks, seeded with S, the same resamples for every model (paired ΔNLL intervals).
      DIR defaults to <ckpt folder>/<ckpt name>-pruned, or beside the folder
      (<its parent>/<ckpt name>-pruned) when it holds two or more checkpoints (a run's).
  backend [--backend B] [--json]
      Which compute backend would run, what it runs on (GPU only when a probe proved it),
      and why the faster ones are unavailable, with each probe's timings.
  install-gpu [--webgpu | --cpu] [--dir D]
      Install @tensorflow/tfjs-node-gpu (CUDA 11.2 / cuDNN 8.1) — with --webgpu the webgpu
      package (Dawn: Vulkan, Metal, D3D12) and @tensorflow/tfjs-backend-webgpu, with --cpu
      @tensorflow/tfjs-node — into D (default ${defaultNativeModulesDir()}); later runs pick it up.

Common options:
  --arch FILE      the model's architecture description (JSON, media/grassmann-lens.arch.schema.json);
                   default: grassmann-lens.arch.json beside the checkpoint or up to 3 folders
                   above, else the built-in descriptions (alphaXiv reproduction, GrassLM, LMConfig)
  --backend auto|${BACKEND_NAMES.join('|')}   (default auto: fastest available)
  --native-dir D   where the optional backends (native TensorFlow, WebGPU) were installed
  --debug          print stack traces
  --help`;

const COMMON: Record<string, OptionSpec> = {
  json: { value: false }, debug: { value: false }, help: { value: false },
  config: { value: true }, arch: { value: true }, tokenizer: { value: true }, backend: { value: true }, 'native-dir': { value: true },
};
const SPECS: Record<string, Record<string, OptionSpec>> = {
  inspect: COMMON,
  'describe-arch': { ...COMMON, out: { value: true }, force: { value: false } },
  run: { ...COMMON, text: { value: true }, file: { value: true }, dump: { value: true } },
  eval: { ...COMMON, data: { value: true }, 'seq-len': { value: true } },
  features: { ...COMMON, text: { value: true }, file: { value: true }, layer: { value: true }, window: { value: true } },
  distances: { ...COMMON, text: { value: true }, file: { value: true }, layer: { value: true }, window: { value: true }, metric: { value: true } },
  drift: { ...COMMON, 'all-subspaces': { value: false } },
  compare: { ...COMMON, tensor: { value: true }, with: { value: true }, text: { value: true }, file: { value: true } },
  relevance: {
    ...COMMON, text: { value: true }, file: { value: true }, position: { value: true }, 'token-id': { value: true },
    rule: { value: true }, epsilon: { value: true }, gamma: { value: true }, gate: { value: true }, start: { value: true },
    composite: { value: true }, 'epsilon-at': { value: true }, 'rule-for': { value: true, repeat: true },
  },
  prune: {
    ...COMMON, data: { value: true }, reference: { value: true }, 'reference-split': { value: true }, criterion: { value: true, repeat: true }, units: { value: true },
    rates: { value: true }, mode: { value: true }, scope: { value: true }, 'reference-samples': { value: true },
    'seq-len': { value: true }, seed: { value: true }, rule: { value: true }, gate: { value: true }, epsilon: { value: true },
    gamma: { value: true }, start: { value: true }, out: { value: true }, bootstrap: { value: true },
    composite: { value: true }, 'epsilon-at': { value: true }, 'rule-for': { value: true, repeat: true },
  },
  backend: COMMON,
  'install-gpu': { ...COMMON, cpu: { value: false }, webgpu: { value: false }, dir: { value: true } },
};

function backendOption(args: ParsedArgs): BackendPreference {
  const b = stringOption(args, 'backend') ?? 'auto';
  if (b !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(b)) {
    throw new UsageError(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}; got '${b}'`);
  }
  return b as BackendPreference;
}

function choice<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got '${v}'`);
  return v as T;
}

function numberOption(args: ParsedArgs, name: string): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number; got '${v}'`);
  return n;
}

function relevanceOptions(args: ParsedArgs): Partial<RelevanceOptions> {
  const out: Partial<RelevanceOptions> = {};
  const rule = choice(args, 'rule', ['epsilon', 'zplus', 'gamma'] as const);
  const gate = choice(args, 'gate', ['signal-take-all', 'half'] as const);
  const start = choice(args, 'start', ['logit', 'unit'] as const);
  const epsilon = numberOption(args, 'epsilon');
  const gamma = numberOption(args, 'gamma');
  if (epsilon !== undefined && epsilon < 0) throw new UsageError('--epsilon must be >= 0');
  if (gamma !== undefined && gamma < 0) throw new UsageError('--gamma must be >= 0');
  const composite = choice(args, 'composite', RULE_COMPOSITE_NAMES);
  const placement = choice(args, 'epsilon-at', ['every-denominator', 'linear-maps'] as const);
  const ruleFor = stringOption(args, 'rule-for');
  if (composite) out.composite = composite;
  if (placement) out.epsilonPlacement = placement;
  if (ruleFor !== undefined) {
    try {
      out.overrides = parseRuleOverrides(ruleFor);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (rule) out.rule = rule;
  if (gate) out.gate = gate;
  if (start) out.start = start;
  if (epsilon !== undefined) out.epsilon = epsilon;
  if (gamma !== undefined) out.gamma = gamma;
  return out;
}

/** Cancels on Ctrl-C, so a long job can clean up after itself. */
function interruptible(): Cancellation {
  const c = {
    cancelled: false,
    progress: (p: Progress) => process.stderr.write(`${terminalSafe(`[${p.done}/${p.total}] ${p.message ?? ''}`)}\n`),
  };
  process.once('SIGINT', () => {
    c.cancelled = true;
    process.stderr.write('grassmann-lens: interrupted, cleaning up\n');
  });
  return c;
}

function onePositional(args: ParsedArgs, what: string): string {
  if (args.positionals.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${args.positionals.length}`);
  return args.positionals[0];
}

/** The text a verb reads: exactly one of --text and --file. */
function textInput(args: ParsedArgs, verb: string): { text?: string; file?: string } {
  const text = stringOption(args, 'text');
  const file = stringOption(args, 'file');
  if ((text === undefined) === (file === undefined)) throw new UsageError(`${verb} needs exactly one of --text or --file`);
  return { text, file };
}

/**
 * Prints a report. Reports quote the file (tensor names, metadata, warnings): text reports are
 * printed line by line through terminalSafe (control characters and escape sequences shown
 * escaped, every line bounded), JSON with the characters JSON.stringify leaves raw escaped too.
 */
function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? jsonTerminalSafe(JSON.stringify(value, null, 2)) + '\n' : terminalSafeLines(text()) + '\n');
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
  const arch = stringOption(args, 'arch');
  const tokenizer = stringOption(args, 'tokenizer');
  const wasmDir = __dirname;

  switch (command) {
    case 'inspect': {
      const report = await inspectCheckpoint(onePositional(args, 'checkpoint'), { config, arch });
      print(json, report, () => inspectReportText(report));
      return 0;
    }
    case 'describe-arch': {
      if (arch !== undefined) throw new UsageError('describe-arch writes a description: it takes no --arch (use --out for where to write it)');
      const report = await describeArchitecture(onePositional(args, 'checkpoint'), { out: stringOption(args, 'out'), force: flag(args, 'force'), config });
      print(json, report, () => formatDescribeArchReport(report));
      return 0;
    }
    case 'backend': {
      const report = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      print(json, report, () => describeBackend(report));
      return 0;
    }
    case 'run': {
      const ckpt = onePositional(args, 'checkpoint');
      const { text, file } = textInput(args, 'run');
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await runText(ckpt, { text, file, config, arch, tokenizer, dump: stringOption(args, 'dump'), backend });
      print(json, report, () => formatRunReport(report));
      return 0;
    }
    case 'eval': {
      const ckpt = onePositional(args, 'checkpoint');
      const data = stringOption(args, 'data');
      if (data === undefined) throw new UsageError('eval needs --data FILE');
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      // --seq-len's range (2..the position table) is checked by evaluateFile once the model is open
      const report = await evaluateFile(ckpt, { data, seqLen: integerOption(args, 'seq-len'), config, arch, tokenizer, backend });
      print(json, report, () =>
        `mean_nll ${report.mean_nll.toFixed(6)}\nperplexity ${report.perplexity.toFixed(4)}\naccuracy ${report.accuracy.toFixed(4)}\nchunks ${report.chunks} x ${report.seq_len} tokens (${report.tokens_dropped} dropped)\nbackend ${report.backend}${report.warnings.map((w) => `\nwarning: ${w}`).join('')}`);
      return 0;
    }
    case 'features':
    case 'distances': {
      const ckpt = onePositional(args, 'checkpoint');
      const { text, file } = textInput(args, command);
      const layer = intOption(args, 'layer', 0);
      const window = intOption(args, 'window', 1);
      if (command === 'features') {
        const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
        const report = await featuresOfText(ckpt, { text, file, config, arch, tokenizer, layer, window, backend });
        print(json, report, () => formatFeaturesReport(report));
        return 0;
      }
      if (layer === undefined || window === undefined) throw new UsageError('distances needs --layer L and --window D');
      const metric = parseMetric(stringOption(args, 'metric'));
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await distancesOfText(ckpt, { text, file, config, arch, tokenizer, layer, window, metric, backend });
      print(json, report, () => formatDistancesReport(report));
      return 0;
    }
    case 'drift': {
      const report = await driftOfCheckpoints({ paths: args.positionals, config, arch, allSubspaces: flag(args, 'all-subspaces') });
      print(json, report, () => formatDriftReport(report));
      return 0;
    }
    case 'compare': {
      if (args.positionals.length !== 2) throw new UsageError(`compare needs two checkpoints, got ${args.positionals.length}`);
      const [a, b] = args.positionals;
      const tensor = stringOption(args, 'tensor');
      const other = stringOption(args, 'with');
      if (other !== undefined && tensor === undefined) throw new UsageError('--with names the tensor of B to compare with --tensor');
      const text = stringOption(args, 'text');
      const file = stringOption(args, 'file');
      if (text !== undefined && file !== undefined) throw new UsageError('compare takes one of --text or --file, not both');
      if (text !== undefined || file !== undefined) {
        const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
        const report = await compareOnText(a, b, { text, file, config, arch, tokenizer, tensor, with: other, backend }, interruptible());
        print(json, report, () => formatCompareTextReport(report));
        return 0;
      }
      const report = await compareCheckpoints({ a, b, config, arch, tensor, with: other });
      print(json, report, () => formatCompareReport(report));
      return 0;
    }
    case 'relevance': {
      const ckpt = onePositional(args, 'checkpoint');
      const { text, file } = textInput(args, 'relevance');
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const report = await relevanceOfText(ckpt, {
        text, file, config, arch, tokenizer, backend, ...relevanceOptions(args),
        position: intOption(args, 'position', 0), tokenId: intOption(args, 'token-id', 0),
      });
      print(json, report, () => formatRelevanceReport(report));
      return 0;
    }
    case 'prune': {
      const ckpt = onePositional(args, 'checkpoint');
      const data = stringOption(args, 'data');
      if (data === undefined) throw new UsageError('prune needs --data FILE (the held-out text each step is evaluated on)');
      const list = (name: string): string[] | undefined => stringOption(args, name)?.split(',').map((s) => s.trim()).filter(Boolean);
      const criteria = list('criterion');
      for (const c of criteria ?? []) if (!(PRUNE_CRITERIA as readonly string[]).includes(c)) throw new UsageError(`--criterion must be one of ${PRUNE_CRITERIA.join(', ')}; got '${c}'`);
      const rates = list('rates')?.map((r) => {
        const n = Number(r);
        if (!Number.isFinite(n)) throw new UsageError(`--rates takes numbers like 0.1,0.3; got '${r}'`);
        return n;
      });
      const backend = await startBackend({ backend: backendOption(args), wasmDir, nativeModulesDir });
      const params: PruneParams = {
        checkpoint: ckpt, data, reference: stringOption(args, 'reference'), referenceSplit: numberOption(args, 'reference-split'), criteria: criteria as PruneCriterion[] | undefined,
        units: choice(args, 'units', PRUNE_UNITS), rates, mode: choice(args, 'mode', ['structural', 'mask'] as const),
        scope: choice(args, 'scope', ['global', 'per-layer'] as const), referenceSamples: intOption(args, 'reference-samples', 1),
        seqLen: integerOption(args, 'seq-len'), seed: intOption(args, 'seed', 0), bootstrap: intOption(args, 'bootstrap', 1), out: stringOption(args, 'out'),
        relevance: relevanceOptions(args), config, arch, tokenizer, backend,
      };
      try {
        checkPruneParams(params);
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      const report = await pruneSweep(params, interruptible()).catch((e: unknown) => {
        // the sweep checks --seq-len against the position table once the model is open (a RangeError)
        if (e instanceof RangeError && e.message.startsWith('--seq-len ')) throw new UsageError(e.message);
        throw e;
      });
      print(json, report, () => formatPruneReport(report));
      return 0;
    }
    case 'install-gpu': {
      if (args.positionals.length) throw new UsageError('install-gpu takes no positional arguments');
      if (flag(args, 'cpu') && flag(args, 'webgpu')) throw new UsageError('install-gpu takes --cpu or --webgpu, not both');
      return installNativeBackend({ gpu: !flag(args, 'cpu'), webgpu: flag(args, 'webgpu'), dir: stringOption(args, 'dir') ?? nativeModulesDir ?? defaultNativeModulesDir() });
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
    // Messages quote files and arguments: always one bounded, escaped line (terminalSafe).
    if (e instanceof UsageError) {
      process.stderr.write(`grassmann-lens: ${terminalSafe(e.message)}\nRun 'grassmann-lens --help' for usage.\n`);
      process.exitCode = 2;
    } else if (isInputError(e)) {
      process.stderr.write(`grassmann-lens: ${terminalSafe(e.message)}\n${debug && e.stack ? terminalSafeLines(e.stack, 2000, 200) + '\n' : ''}`);
      process.exitCode = 1;
    } else {
      const err = e as Error;
      process.stderr.write(`grassmann-lens: internal error: ${terminalSafe(err?.message ?? String(e))}\n${debug ? terminalSafeLines(err?.stack ?? '', 2000, 200) + '\n' : '(run with --debug for the stack trace)\n'}`);
      process.exitCode = 70;
    }
  },
).finally(() => {
  // Dawn keeps the process running while the WebGPU device is referenced: let it go, and end the
  // process should anything native still hold the event loop (the timer itself holds nothing).
  releaseBackend();
  setTimeout(() => process.exit(), 1000).unref();
});
