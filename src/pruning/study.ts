/**
 * A reproducible pruning study (`npm run study`, scripts/study.ts): every criterion of
 * PRUNE_CRITERIA that applies to FFN neurons, plus `random` with several seeds, pruning FFN units
 * in mask mode at the rates 0.1 … 0.5, each step with its 95% percentile-bootstrap interval.
 *
 * Held out: the text is split at a line boundary into an evaluation part (the start) and a
 * reference part (the last `referenceFraction`, default 25%): the units are scored on the
 * reference part only and every model is evaluated on the evaluation part only. Both parts are
 * written into the output folder, and study.json states the split (characters and lines).
 *
 * Paired across sweeps: the deterministic criteria run in one sweep (seed S), each random seed
 * S, S+1, … in a sweep of its own, and every sweep uses the bootstrap seed S on the same
 * evaluation chunks, so all of them share the same resamples: any two models' ΔNLL can be
 * resampled together (./bootstrap.ts).
 *
 * Output folder:
 *   study.json        everything (the split, settings, baseline, rows, random summary, comparisons)
 *   study.csv         one row per criterion × seed × rate (and the baseline), the numbers of study.json
 *   study.svg         perplexity vs rate per criterion with 95% bands (random: mean of the seeds,
 *                     band min–max across seeds), standalone, light and dark
 *   evaluation.txt, reference.txt   the two parts of the text
 *   sweeps/<name>/pruning.json      each sweep's report (its step folders keep only their
 *                     pruning.json unless keepCheckpoints)
 */
import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../model/backend';
import { InputError } from '../util/errors';
import { MAX_EVAL_TEXT_BYTES, readTextFileBounded } from '../core/input';
import { ModelSession } from '../core/session';
import { criterionApplies } from './criteria';
import { ChunkBootstrap, intervalsOverlap, type Replicates } from './bootstrap';
import { pruneSweep } from './sweep';
import { bootstrapLine, formatInterval } from './report';
import {
  PRUNE_CRITERIA,
  type BootstrapSettings,
  type Estimate,
  type Interval,
  type MeasuredQuality,
  type PruneCriterion,
  type PruneMode,
  type PruneReport,
  type PruneStep,
} from '../relevance/types';

export const STUDY_DEFAULTS = {
  rates: [0.1, 0.2, 0.3, 0.4, 0.5],
  seeds: 5,
  bootstrap: 1000,
  seed: 1,
  /** Chunks of 64 tokens: twice as many resampling units as the fixture's 128-token table gives. */
  seqLen: 64,
  referenceSamples: 4,
  referenceFraction: 0.25,
  mode: 'mask' as PruneMode,
};

export interface StudyParams {
  checkpoint: string;
  /** The text that is split into the evaluation and the reference part. */
  data: string;
  out: string;
  /** Random seeds S, S+1, …, S+seeds-1 (default 5). */
  seeds?: number;
  /** B (default 1000). */
  bootstrap?: number;
  /** S: first random seed and the bootstrap seed of every sweep (default 1). */
  seed?: number;
  rates?: number[];
  /** Chunk length (default min(64, the model's position table)). */
  seqLen?: number;
  referenceSamples?: number;
  /** Share of the text (its end, cut at a line boundary) used for the reference samples. */
  referenceFraction?: number;
  keepCheckpoints?: boolean;
  config?: string;
  arch?: string;
  tokenizer?: string;
  backend?: BackendReport;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface TextPart {
  file: string;
  /** Character offsets [start, end) in the source text (UTF-16 code units). */
  start: number;
  end: number;
  /** 1-based, inclusive. */
  firstLine: number;
  lastLine: number;
}

export interface StudySplit {
  source: string;
  characters: number;
  evaluation: TextPart;
  reference: TextPart;
  /** The split in words. */
  description: string;
}

/** One CSV row: a model at a rate (the baseline: criterion 'baseline', rate 0). */
export interface StudyRow {
  criterion: PruneCriterion | 'baseline';
  /** The random criterion's seed; null for the deterministic criteria and the baseline. */
  seed: number | null;
  rate: number;
  removed: number;
  perplexity: number;
  perplexity_low: number;
  perplexity_high: number;
  mean_nll: number;
  mean_nll_low: number;
  mean_nll_high: number;
  /** mean NLL minus the baseline's, paired 95% interval. */
  delta_nll: number;
  delta_nll_low: number;
  delta_nll_high: number;
  accuracy: number;
  accuracy_low: number;
  accuracy_high: number;
}

export const STUDY_CSV_COLUMNS: readonly (keyof StudyRow)[] = [
  'criterion', 'seed', 'rate', 'removed', 'perplexity', 'perplexity_low', 'perplexity_high', 'mean_nll', 'mean_nll_low', 'mean_nll_high',
  'delta_nll', 'delta_nll_low', 'delta_nll_high', 'accuracy', 'accuracy_low', 'accuracy_high',
];

export interface Spread {
  mean: number;
  min: number;
  max: number;
}

/** The random criterion at one rate, across its seeds. */
export interface RandomSummary {
  rate: number;
  seeds: number[];
  perplexity: Spread;
  deltaNll: Spread;
  accuracy: Spread;
  /** Each seed's perplexity and its 95% interval. */
  perSeed: { seed: number; perplexity: Estimate }[];
}

/** Two models at one rate (b may be one random seed). */
export interface StudyComparison {
  rate: number;
  a: PruneCriterion;
  b: PruneCriterion;
  /** b's seed when b is random. */
  bSeed: number | null;
  deltaNll: Estimate;
  overlap: boolean;
  separable: boolean;
  pairedExcludesZero: boolean;
}

export interface StudyReport {
  kind: 'grassmann-lens pruning study';
  checkpoint: string;
  split: StudySplit;
  units: 'ffn';
  mode: PruneMode;
  scope: 'global';
  rates: number[];
  /** Deterministic criteria (one sweep). */
  criteria: PruneCriterion[];
  randomSeeds: number[];
  seqLen: number;
  referenceSamples: number;
  bootstrap: BootstrapSettings;
  baseline: StudyRow;
  rows: StudyRow[];
  random: RandomSummary[];
  /** Every two deterministic criteria, and every deterministic criterion against every random seed, per rate. */
  comparisons: StudyComparison[];
  /** The deterministic pairs whose 95% perplexity intervals overlap. */
  notSeparable: { rate: number; criteria: [PruneCriterion, PruneCriterion] }[];
  sweeps: { name: string; output: string; criteria: PruneCriterion[]; seed: number }[];
  checkpointsKept: boolean;
  files: string[];
  output: string;
  backend: string;
  seconds: number;
  warnings: string[];
}

/** Splits `text` at the first line end at or after (1 - referenceFraction) of its length. */
export function splitText(text: string, referenceFraction: number): { evaluation: string; reference: string; cut: number } {
  if (!(referenceFraction > 0 && referenceFraction < 1)) throw new RangeError(`the reference fraction ${referenceFraction} must be between 0 and 1 (exclusive)`);
  const target = Math.floor(text.length * (1 - referenceFraction));
  const newline = text.indexOf('\n', target);
  const cut = newline < 0 ? target : newline + 1;
  return { evaluation: text.slice(0, cut), reference: text.slice(cut), cut };
}

const linesBefore = (text: string, end: number): number => {
  let n = 0;
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
};

function rowOf(criterion: StudyRow['criterion'], seed: number | null, rate: number, removed: number, q: MeasuredQuality, delta: Estimate): StudyRow {
  return {
    criterion, seed, rate, removed,
    perplexity: q.perplexity, perplexity_low: q.interval.perplexity.low, perplexity_high: q.interval.perplexity.high,
    mean_nll: q.mean_nll, mean_nll_low: q.interval.mean_nll.low, mean_nll_high: q.interval.mean_nll.high,
    delta_nll: delta.value, delta_nll_low: delta.interval.low, delta_nll_high: delta.interval.high,
    accuracy: q.accuracy, accuracy_low: q.interval.accuracy.low, accuracy_high: q.interval.accuracy.high,
  };
}

const spread = (values: number[]): Spread => ({ mean: values.reduce((a, v) => a + v, 0) / values.length, min: Math.min(...values), max: Math.max(...values) });

/** study.csv: a header and one line per row; numbers as JavaScript prints them (they read back exactly). */
export function studyCsv(rows: readonly StudyRow[]): string {
  const cell = (v: unknown): string => (v === null ? '' : typeof v === 'number' ? String(v) : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return [STUDY_CSV_COLUMNS.join(','), ...rows.map((r) => STUDY_CSV_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export async function runStudy(p: StudyParams): Promise<StudyReport> {
  const started = Date.now();
  const log = p.log ?? (() => undefined);
  const rates = [...new Set(p.rates ?? STUDY_DEFAULTS.rates)].sort((a, b) => a - b);
  const seedCount = p.seeds ?? STUDY_DEFAULTS.seeds;
  if (!Number.isInteger(seedCount) || seedCount < 1) throw new RangeError(`--seeds ${seedCount} must be a positive integer`);
  const seed = p.seed ?? STUDY_DEFAULTS.seed;
  const bootstrap = p.bootstrap ?? STUDY_DEFAULTS.bootstrap;
  const referenceSamples = p.referenceSamples ?? STUDY_DEFAULTS.referenceSamples;
  const referenceFraction = p.referenceFraction ?? STUDY_DEFAULTS.referenceFraction;
  const mode = STUDY_DEFAULTS.mode;
  const criteria = PRUNE_CRITERIA.filter((c) => c !== 'random' && criterionApplies(c, 'ffn') === null);
  const randomSeeds = Array.from({ length: seedCount }, (_, i) => seed + i);
  const out = resolve(p.out);
  const checkpoint = resolve(p.checkpoint);

  // A previous study in `out` is replaced; anything else there is left alone.
  const existing = await fs.readdir(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    if (e.code === 'ENOTDIR') throw new InputError(out, 'the output path is a file, not a folder');
    throw e;
  });
  if (existing.length > 0) {
    if (!existing.includes('study.json')) throw new InputError(out, 'the output folder is not empty and holds no study.json (not an earlier study): choose another --out');
    await fs.rm(out, { recursive: true, force: true });
  }
  await fs.mkdir(out, { recursive: true });
  try {
    const text = await readTextFileBounded(p.data, 'study text', MAX_EVAL_TEXT_BYTES);
    const parts = splitText(text, referenceFraction);
    const evaluationFile = join(out, 'evaluation.txt');
    const referenceFile = join(out, 'reference.txt');
    await fs.writeFile(evaluationFile, parts.evaluation);
    await fs.writeFile(referenceFile, parts.reference);
    const evalLines = linesBefore(text, parts.cut);
    const allLines = linesBefore(text, text.length) + (text.endsWith('\n') ? 0 : 1);
    const split: StudySplit = {
      source: resolve(p.data),
      characters: text.length,
      evaluation: { file: evaluationFile, start: 0, end: parts.cut, firstLine: 1, lastLine: evalLines },
      reference: { file: referenceFile, start: parts.cut, end: text.length, firstLine: evalLines + 1, lastLine: allLines },
      description: `${basename(p.data)} split at the first line end after ${Math.round((1 - referenceFraction) * 100)}% of its ${text.length} characters: evaluation = characters 0-${parts.cut} (lines 1-${evalLines}), reference = characters ${parts.cut}-${text.length} (lines ${evalLines + 1}-${allLines}); the units are scored on the reference part only, every model is evaluated on the evaluation part only`,
    };
    log(`split: ${split.description}`);

    const common = {
      checkpoint, data: evaluationFile, reference: referenceFile, units: 'ffn' as const, mode, scope: 'global' as const, rates,
      referenceSamples, bootstrap, bootstrapSeed: seed, config: p.config, arch: p.arch, tokenizer: p.tokenizer, backend: p.backend,
    };
    // The default chunk length, within the model's position table.
    const maxPositions = await ModelSession.with(checkpoint, { config: p.config, arch: p.arch, tokenizer: p.tokenizer }, async (s) => s.spec.dims.maxPositions);
    const seqLen = p.seqLen ?? Math.min(STUDY_DEFAULTS.seqLen, maxPositions);
    const sweepsDir = join(out, 'sweeps');
    await fs.mkdir(sweepsDir);
    const sweeps: StudyReport['sweeps'] = [];
    const run = async (name: string, list: PruneCriterion[], s: number): Promise<PruneReport> => {
      const t = Date.now();
      log(`sweep ${name}: ${list.join(', ')} at ${rates.join(', ')} (seed ${s}, bootstrap seed ${seed}, B = ${bootstrap})`);
      const report = await pruneSweep({ ...common, criteria: list, seed: s, seqLen, out: join(sweepsDir, name) });
      log(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      sweeps.push({ name, output: report.output, criteria: list, seed: s });
      return report;
    };
    const main = await run('criteria', criteria, seed);
    const randoms: PruneReport[] = [];
    for (const s of randomSeeds) randoms.push(await run(`random-seed-${s}`, ['random'], s));

    // Every sweep resampled the same chunks with the same seed: one bootstrap gives every model's replicates.
    const settings = main.bootstrap;
    for (const r of randoms) {
      if (r.bootstrap.chunks !== settings.chunks || r.bootstrap.seed !== settings.seed || r.bootstrap.resamples !== settings.resamples) {
        throw new Error(`sweep ${r.output} resampled ${r.bootstrap.chunks} chunks with seed ${r.bootstrap.seed}, the criteria sweep ${settings.chunks} with seed ${settings.seed}`);
      }
    }
    const boot = new ChunkBootstrap(settings.chunks, settings.predictionsPerChunk, settings.resamples, settings.seed, settings.level);
    const replicates = new Map<PruneStep | MeasuredQuality, Replicates>();
    const rep = (q: PruneStep | MeasuredQuality): Replicates => {
      let r = replicates.get(q);
      if (!r) replicates.set(q, (r = boot.replicates(q.perChunk)));
      return r;
    };

    const zero: Estimate = { value: 0, interval: { low: 0, high: 0 } };
    const baseline = rowOf('baseline', null, 0, 0, main.baseline, zero);
    const rows: StudyRow[] = [baseline];
    for (const c of criteria) for (const s of main.steps.filter((x) => x.criterion === c)) rows.push(rowOf(c, null, s.rate, s.removed.length, s, s.deltaNll));
    randoms.forEach((r, i) => {
      for (const s of r.steps) rows.push(rowOf('random', randomSeeds[i], s.rate, s.removed.length, s, s.deltaNll));
    });

    const random: RandomSummary[] = rates.map((rate) => {
      const steps = randoms.map((r) => r.steps.find((s) => s.rate === rate)!);
      return {
        rate,
        seeds: randomSeeds,
        perplexity: spread(steps.map((s) => s.perplexity)),
        deltaNll: spread(steps.map((s) => s.deltaNll.value)),
        accuracy: spread(steps.map((s) => s.accuracy)),
        perSeed: steps.map((s, i) => ({ seed: randomSeeds[i], perplexity: { value: s.perplexity, interval: s.interval.perplexity } })),
      };
    });

    const compare = (rate: number, a: PruneStep, b: PruneStep, bSeed: number | null): StudyComparison => {
      const interval = boot.differenceInterval(rep(a), rep(b));
      const overlap = intervalsOverlap(a.interval.perplexity, b.interval.perplexity);
      return {
        rate, a: a.criterion, b: b.criterion, bSeed, deltaNll: { value: a.mean_nll - b.mean_nll, interval },
        overlap, separable: !overlap, pairedExcludesZero: interval.low > 0 || interval.high < 0,
      };
    };
    const comparisons: StudyComparison[] = [];
    for (const rate of rates) {
      const at = criteria.map((c) => main.steps.find((s) => s.criterion === c && s.rate === rate)!);
      for (let i = 0; i < at.length; i++) for (let j = i + 1; j < at.length; j++) comparisons.push(compare(rate, at[i], at[j], null));
      for (const a of at) randoms.forEach((r, k) => comparisons.push(compare(rate, a, r.steps.find((s) => s.rate === rate)!, randomSeeds[k])));
    }

    if (!p.keepCheckpoints) {
      // Keep the numbers (each step's pruning.json), drop the checkpoints and their companions.
      for (const r of [main, ...randoms]) for (const s of r.steps) for (const f of s.files) await fs.rm(f, { force: true });
    }

    const report: StudyReport = {
      kind: 'grassmann-lens pruning study',
      checkpoint,
      split,
      units: 'ffn',
      mode,
      scope: 'global',
      rates,
      criteria,
      randomSeeds,
      seqLen: main.seqLen,
      referenceSamples: main.referenceSamples,
      bootstrap: settings,
      baseline,
      rows,
      random,
      comparisons,
      notSeparable: comparisons.filter((c) => c.bSeed === null && !c.separable).map((c) => ({ rate: c.rate, criteria: [c.a, c.b] as [PruneCriterion, PruneCriterion] })),
      sweeps,
      checkpointsKept: !!p.keepCheckpoints,
      files: ['study.json', 'study.csv', 'study.svg', 'evaluation.txt', 'reference.txt'].map((f) => join(out, f)),
      output: out,
      backend: main.backend ?? tf.getBackend(),
      seconds: 0,
      warnings: [...new Set([main, ...randoms].flatMap((r) => r.warnings))],
    };
    report.seconds = (Date.now() - started) / 1000;
    await fs.writeFile(join(out, 'study.csv'), studyCsv(rows));
    await fs.writeFile(join(out, 'study.svg'), studySvg(report));
    await fs.writeFile(join(out, 'study.json'), JSON.stringify(report, null, 1) + '\n');
    return report;
  } catch (e) {
    await fs.rm(out, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

export function formatStudy(r: StudyReport): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const f4 = (v: number): string => v.toFixed(4);
  const sg = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(4)}`;
  const lines: string[] = [];
  lines.push(`Pruning study: ${r.checkpoint}`);
  lines.push(`  units      FFN neurons, ${r.mode} mode, ${r.scope} ranking, rates ${r.rates.join(', ')}`);
  lines.push(`  split      ${r.split.description}`);
  lines.push(`  reference  ${r.referenceSamples} samples of ${r.seqLen} tokens from ${r.split.reference.file}`);
  lines.push(`  intervals  ${bootstrapLine({ bootstrap: r.bootstrap, seqLen: r.seqLen })}`);
  lines.push(`  random     seeds ${r.randomSeeds.join(', ')} (one sweep each, same resamples)`);
  lines.push('');
  const head = `  ${'criterion'.padEnd(13)} ${'seed'.padStart(4)} ${'rate'.padStart(5)} ${'perplexity'.padStart(10)} ${'95% interval'.padEnd(20)} ${'ΔNLL'.padStart(8)} ${'95% interval'.padEnd(19)} ${'top-1'.padStart(6)} ${'95% interval'}`;
  lines.push(head);
  for (const row of r.rows) {
    lines.push(`  ${row.criterion.padEnd(13)} ${(row.seed === null ? '' : String(row.seed)).padStart(4)} ${row.rate.toFixed(1).padStart(5)} ${f4(row.perplexity).padStart(10)} ${formatInterval({ low: row.perplexity_low, high: row.perplexity_high }, f4).padEnd(20)} ${sg(row.delta_nll).padStart(8)} ${formatInterval({ low: row.delta_nll_low, high: row.delta_nll_high }, sg).padEnd(19)} ${pct(row.accuracy).padStart(6)} ${formatInterval({ low: row.accuracy_low, high: row.accuracy_high }, pct)}`);
  }
  lines.push('');
  lines.push(`  random across ${r.randomSeeds.length} seeds: mean [min-max]`);
  lines.push(`  ${'rate'.padStart(6)} ${'perplexity'.padEnd(30)} ${'ΔNLL'.padEnd(30)} top-1`);
  for (const s of r.random) {
    lines.push(`  ${s.rate.toFixed(1).padStart(6)} ${`${f4(s.perplexity.mean)} [${f4(s.perplexity.min)}-${f4(s.perplexity.max)}]`.padEnd(30)} ${`${sg(s.deltaNll.mean)} [${sg(s.deltaNll.min)}, ${sg(s.deltaNll.max)}]`.padEnd(30)} ${pct(s.accuracy.mean)} [${pct(s.accuracy.min)}-${pct(s.accuracy.max)}]`);
  }
  lines.push('');
  lines.push(`  separability: ${r.bootstrap.separability}`);
  for (const rate of r.rates) {
    const pairs = r.comparisons.filter((c) => c.rate === rate && c.bSeed === null);
    const not = r.notSeparable.filter((n) => n.rate === rate).map((n) => n.criteria.join('/'));
    const which = not.length === pairs.length && pairs.length > 1 ? `all ${pairs.length} pairs of criteria` : not.join(', ');
    lines.push(`    rate ${rate}: ${not.length ? `not separable (perplexity intervals overlap): ${which}` : 'every pair of criteria separable'}`);
    const paired = pairs.filter((c) => c.pairedExcludesZero).map((c) => `${c.a}/${c.b}`);
    lines.push(`      paired ΔNLL interval excludes 0 (${paired.length}/${pairs.length}): ${paired.length ? paired.join(', ') : 'none'}`);
    for (const c of r.criteria) {
      const vs = r.comparisons.filter((x) => x.rate === rate && x.a === c && x.bSeed !== null);
      lines.push(`      ${c.padEnd(13)} vs random: separable from ${vs.filter((x) => x.separable).length}/${vs.length} seeds, paired ΔNLL excludes 0 for ${vs.filter((x) => x.pairedExcludesZero).length}/${vs.length}, ΔNLL (criterion − random) ${sg(Math.min(...vs.map((x) => x.deltaNll.value)))} to ${sg(Math.max(...vs.map((x) => x.deltaNll.value)))}`);
    }
  }
  lines.push('');
  lines.push(`  written to ${r.output}: study.json, study.csv, study.svg, evaluation.txt, reference.txt, sweeps/ (${r.checkpointsKept ? 'with' : 'without'} the step checkpoints)`);
  lines.push(`  backend ${r.backend}, ${r.seconds.toFixed(1)} s`);
  for (const w of r.warnings) lines.push(`  warning ${w}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The chart
// ---------------------------------------------------------------------------------------------

/** Round tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 100) / 100).toString();
const tick = (v: number): string => Number(v.toPrecision(4)).toString();

/** Light-theme and dark-theme colours per series (both readable on their background). */
const PALETTE: [string, string][] = [
  ['#1f6fb4', '#6cb4ff'], ['#c45a00', '#ffa657'], ['#2e8540', '#7ee787'], ['#c62828', '#ff7b72'],
  ['#7b3fb0', '#d2a8ff'], ['#8a6d00', '#e3b341'], ['#00796b', '#56d4c4'], ['#ad1457', '#ff8cc6'],
];

interface SvgPoint {
  x: number;
  y: number;
  low: number;
  high: number;
}

interface SvgSeries {
  name: string;
  note: string;
  dashed: boolean;
  points: SvgPoint[];
}

/** One chart panel: bands, then lines and points, axes, a dashed reference line at `reference`. */
function svgPanel(out: string[], box: { left: number; top: number; width: number; height: number }, series: SvgSeries[], rates: number[], o: {
  title: string; yTitle: string; reference: number; referenceLabel: string; positiveOnly: boolean; format: (v: number) => string;
}): void {
  const { left, top, width: pw, height: ph } = box;
  const finite = (v: number): boolean => Number.isFinite(v) && (!o.positiveOnly || v > 0);
  const values = [o.reference, ...series.flatMap((s) => s.points.flatMap((p) => [p.low, p.high, p.y]))].filter(finite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const logY = o.positiveOnly && hi / lo > 20;
  const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.05 || 1e-3;
  const [y0, y1] = logY ? [lo, hi] : [o.positiveOnly ? Math.max(0, lo - pad) : lo - pad, hi + pad];
  const y = (v: number): number => top + ph - (logY ? (Math.log(v) - Math.log(y0)) / (Math.log(y1) - Math.log(y0)) : (v - y0) / (y1 - y0)) * ph;
  const xMax = Math.max(...rates);
  const x = (v: number): number => left + (v / xMax) * pw;
  const yTicks = logY
    ? [1, 2, 5].flatMap((k) => Array.from({ length: 8 }, (_, e) => k * 10 ** e)).filter((v) => v >= y0 && v <= y1).sort((a, b) => a - b)
    : niceTicks(y0, y1);
  out.push(`<text class="fg" x="${left}" y="${top - 10}" font-weight="bold">${esc(o.title)}${logY ? ' (log scale)' : ''}</text>`);
  for (const v of yTicks) {
    out.push(`<line class="grid" x1="${left}" x2="${left + pw}" y1="${num(y(v))}" y2="${num(y(v))}"/>`);
    out.push(`<text class="fg small" x="${left - 6}" y="${num(y(v) + 4)}" text-anchor="end">${o.format(v)}</text>`);
  }
  for (const v of [0, ...rates]) out.push(`<text class="fg small" x="${num(x(v))}" y="${top + ph + 16}" text-anchor="middle">${Math.round(v * 100)}%</text>`);
  out.push(`<path class="axis" d="M${left},${top}V${top + ph}H${left + pw}"/>`);
  out.push(`<text class="fg" x="${left + pw / 2}" y="${top + ph + 36}" text-anchor="middle">pruning rate (share of FFN neurons removed)</text>`);
  out.push(`<text class="fg" transform="translate(${left - 52},${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yTitle)}</text>`);
  out.push(`<line class="base" x1="${left}" x2="${left + pw}" y1="${num(y(o.reference))}" y2="${num(y(o.reference))}"><title>${esc(`${o.referenceLabel}: ${o.format(o.reference)}`)}</title></line>`);
  const ok = (p: SvgPoint): boolean => [p.y, p.low, p.high].every(finite);
  series.forEach((s, i) => {
    const pts = s.points.filter(ok);
    if (pts.length === 0) return;
    const c = `s${i % PALETTE.length}`;
    const upper = pts.map((p) => `${num(x(p.x))},${num(y(p.high))}`);
    const lower = pts.map((p) => `${num(x(p.x))},${num(y(p.low))}`);
    out.push(`<polygon class="band ${c}" points="${[...upper, ...lower.reverse()].join(' ')}"><title>${esc(`${s.name}: ${s.note}`)}</title></polygon>`);
  });
  series.forEach((s, i) => {
    const pts = s.points.filter(ok);
    if (pts.length === 0) return;
    const c = `s${i % PALETTE.length}`;
    out.push(`<polyline class="line ${c}${s.dashed ? ' dash' : ''}" points="${pts.map((p) => `${num(x(p.x))},${num(y(p.y))}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle class="${c}" cx="${num(x(p.x))}" cy="${num(y(p.y))}" r="2.6"><title>${esc(`${s.name}, rate ${p.x}: ${o.format(p.y)} [${o.format(p.low)}, ${o.format(p.high)}]`)}</title></circle>`);
  });
}

/**
 * study.svg, two panels: perplexity against the rate per criterion with its 95% band (the
 * baseline at rate 0 and dashed), and ΔNLL against the unpruned model with its paired 95% band
 * (much narrower: the text's own variation cancels). Random: the mean of its seeds, band min–max
 * across the seeds. Colours switch with prefers-color-scheme, on a background of their own, so
 * the file reads in light and dark viewers (and on either page when a viewer ignores the query).
 */
export function studySvg(r: StudyReport): string {
  const W = 1120;
  const H = 500;
  const top = 74;
  const ph = H - top - 62;
  const pw = 360;
  const panels = [{ left: 76 }, { left: 76 + pw + 92 }];
  const legendX = panels[1].left + pw + 24;
  const base = r.baseline;
  const perplexity: SvgSeries[] = r.criteria.map((c) => ({
    name: c,
    dashed: false,
    note: '95% bootstrap interval',
    points: [
      { x: 0, y: base.perplexity, low: base.perplexity_low, high: base.perplexity_high },
      ...r.rows.filter((row) => row.criterion === c).map((row) => ({ x: row.rate, y: row.perplexity, low: row.perplexity_low, high: row.perplexity_high })),
    ],
  }));
  const delta: SvgSeries[] = r.criteria.map((c) => ({
    name: c,
    dashed: false,
    note: 'paired 95% interval',
    points: [{ x: 0, y: 0, low: 0, high: 0 }, ...r.rows.filter((row) => row.criterion === c).map((row) => ({ x: row.rate, y: row.delta_nll, low: row.delta_nll_low, high: row.delta_nll_high }))],
  }));
  const randomName = `random (${r.randomSeeds.length} seed${r.randomSeeds.length === 1 ? '' : 's'})`;
  perplexity.push({
    name: randomName, dashed: true, note: 'mean of seeds, band min–max',
    points: [{ x: 0, y: base.perplexity, low: base.perplexity, high: base.perplexity }, ...r.random.map((s) => ({ x: s.rate, y: s.perplexity.mean, low: s.perplexity.min, high: s.perplexity.max }))],
  });
  delta.push({
    name: randomName, dashed: true, note: 'mean of seeds, band min–max',
    points: [{ x: 0, y: 0, low: 0, high: 0 }, ...r.random.map((s) => ({ x: s.rate, y: s.deltaNll.mean, low: s.deltaNll.min, high: s.deltaNll.max }))],
  });

  const css = PALETTE.map(([light], i) => `.s${i}{stroke:${light};fill:${light}}`).join('') +
    `@media (prefers-color-scheme: dark){.bg{fill:#1e1e1e}.fg{fill:#d4d4d4}.axis{stroke:#8b949e}.grid{stroke:#3b3b3b}.base{stroke:#b0b0b0}.band{fill-opacity:.14}${PALETTE.map(([, dark], i) => `.s${i}{stroke:${dark};fill:${dark}}`).join('')}}`;
  const level = Math.round(r.bootstrap.level * 100);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="t d">`);
  out.push(`<title id="t">Perplexity and ΔNLL against the FFN pruning rate, per criterion, with ${level}% bootstrap intervals</title>`);
  out.push(`<desc id="d">${esc(`${basename(r.checkpoint)}, ${r.mode} mode; bands: ${level}% percentile bootstrap over ${r.bootstrap.chunks} evaluation chunks of ${r.seqLen} tokens, B = ${r.bootstrap.resamples}, seed ${r.bootstrap.seed}, the same resamples for every model; random: mean of seeds ${r.randomSeeds.join(', ')}, band min-max across seeds. ${r.split.description}`)}</desc>`);
  out.push(`<style>.bg{fill:#ffffff}.fg{fill:#1f2328;font:12px sans-serif}.small{font-size:11px}.axis{stroke:#57606a;stroke-width:1;fill:none}.grid{stroke:#e6e8eb;stroke-width:1}.base{stroke:#57606a;stroke-width:1.2;stroke-dasharray:5 4;fill:none}.line{fill:none!important;stroke-width:1.8}.dash{stroke-dasharray:6 3}.band{stroke:none!important;fill-opacity:.1}${css}</style>`);
  out.push(`<rect class="bg" x="0" y="0" width="${W}" height="${H}"/>`);
  out.push(`<text class="fg" x="${panels[0].left}" y="22" font-weight="bold">FFN pruning of ${esc(basename(r.checkpoint))} (${r.mode} mode, ${r.scope} ranking), evaluated on ${r.bootstrap.chunks * r.bootstrap.predictionsPerChunk} held-out predictions</text>`);
  out.push(`<text class="fg small" x="${panels[0].left}" y="40">bands: ${level}% percentile bootstrap, B = ${r.bootstrap.resamples} resamples of ${r.bootstrap.chunks} chunks of ${r.seqLen} tokens, seed ${r.bootstrap.seed}, paired (the same resamples for every model); random: seeds ${r.randomSeeds.join(', ')}</text>`);
  svgPanel(out, { left: panels[0].left, top, width: pw, height: ph }, perplexity, r.rates, {
    title: 'Perplexity', yTitle: 'perplexity', reference: base.perplexity, referenceLabel: 'unpruned', positiveOnly: true, format: tick,
  });
  svgPanel(out, { left: panels[1].left, top, width: pw, height: ph }, delta, r.rates, {
    title: 'ΔNLL vs the unpruned model (nats)', yTitle: 'mean NLL − unpruned (nats)', reference: 0, referenceLabel: 'unpruned', positiveOnly: false,
    format: (v) => Number(v.toPrecision(3)).toString(),
  });
  perplexity.forEach((s, i) => {
    const ly = top + 4 + i * 32;
    const c = `s${i % PALETTE.length}`;
    out.push(`<rect class="band ${c}" x="${legendX}" y="${ly - 7}" width="22" height="14"/>`);
    out.push(`<line class="line ${c}${s.dashed ? ' dash' : ''}" x1="${legendX}" x2="${legendX + 22}" y1="${ly}" y2="${ly}"/>`);
    out.push(`<text class="fg" x="${legendX + 28}" y="${ly + 4}">${esc(s.name)}</text>`);
    out.push(`<text class="fg small" x="${legendX + 28}" y="${ly + 17}">${esc(s.dashed ? s.note : `${level}% interval`)}</text>`);
  });
  const ly = top + 4 + perplexity.length * 32;
  out.push(`<line class="base" x1="${legendX}" x2="${legendX + 22}" y1="${ly}" y2="${ly}"/><text class="fg" x="${legendX + 28}" y="${ly + 4}">unpruned</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** For tests and callers that want a row's interval back as an Interval. */
export function rowInterval(row: StudyRow, what: 'perplexity' | 'mean_nll' | 'delta_nll' | 'accuracy'): Interval {
  return { low: row[`${what}_low`], high: row[`${what}_high`] };
}
