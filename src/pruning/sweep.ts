/**
 * Pruning by explaining (Yeom et al.; grassmann-math.md §5): score the units of a model with one
 * or more criteria on a few reference samples, remove the lowest-scored at each rate (no
 * fine-tuning), write each pruned checkpoint and measure what the cut cost with the `eval`
 * protocol (perplexity and next-token top-1 accuracy on the data file).
 *
 * Each step's numbers come from the written checkpoint itself, opened and evaluated like
 * `grassmann-lens eval <step>/model.safetensors --data F`, so they are equal by construction.
 * Every number carries a 95% percentile-bootstrap interval over the evaluation chunks
 * (./bootstrap.ts: B resamples, seeded, the same resamples for the baseline and every step), and
 * so do each step's mean-NLL change against the baseline and, at each rate, the difference of
 * every two criteria; pairs whose perplexity intervals overlap are listed as not separable.
 *
 * Output folder (`out`):
 *   pruning.json                   the whole report (PruneReport)
 *   <criterion>-<rate>/            one folder per step:
 *     model.safetensors, config.json, the tokenizer's files, pruning.json (criterion, rate,
 *     removed units with scores, metrics); mask mode adds model.pt: the implementation's
 *     state dict in its own key names (torchStateDict), saved the way the source checkpoint was
 *     (torchSaveOf: the same wrapper keys, config dict and metadata, prefixes), so the
 *     implementation's own module loads it with load_state_dict(strict=True).
 *   config.json is in the implementation's own keys (../model/config.ts configJsonOf; structural:
 *   prunedConfigFor, with the per-block sizes in `layers`).
 * Everything is written under a hidden sibling folder first and renamed into place at the end,
 * so a cancelled or failed sweep leaves nothing behind.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readFloat32, readTensorRaw } from '../checkpoint/tensorData';
import { writeSafetensors, type TensorToWrite } from '../checkpoint/safetensorsWriter';
import { writeTorchCheckpoint, type PickleData } from '../checkpoint/torchWriter';
import type { Checkpoint } from '../checkpoint/types';
import { ARCHITECTURE_FILE_NAME } from '../model/architecture';
import { configJsonOf, prunedConfigFor } from '../model/config';
import type { BackendReport } from '../model/backend';
import type { GrassmannModel } from '../model/grassmann';
import { ALPHAXIV } from '../model/architecture';
import { layerKey, rowMajorPairs, type GrassmannSpec, type LayerShape } from '../model/spec';
import { InputError } from '../util/errors';
import { pauseFor, throwIfCancelled, type Cancellation } from '../core/cancellation';
import { freshSession, ModelSession, type SessionProvider } from '../core/session';
import { MAX_EVAL_TEXT_BYTES, readTextFileBounded } from '../core/input';
import { normalisePerLayer, scoreUnits, scoringConventions, unitsOfLayer } from './criteria';
import { criterionApplies, DEFAULT_PRUNE, defaultCriteria, defaultOutputFolder } from './choices';
import { splitFractionProblem, splitReference, type TextSplit } from './heldOut';
import { checkpointsInFolder } from '../checkpoint/files';
import { describeRules } from '../relevance/layoutRules';
import { RuleBook } from '../relevance/rules';
import { pruneStateDict, selectUnits } from './apply';
import {
  BOOTSTRAP_LEVEL, BOOTSTRAP_RESAMPLES_RANGE, ChunkBootstrap, QUANTILE_RULE, SEPARABILITY_RULE,
  SMALL_EVALUATION_PREDICTIONS, intervalsOverlap, resamplingUnit, type Replicates,
} from './bootstrap';
import {
  DEFAULT_RELEVANCE_OPTIONS,
  type CriterionComparison,
  type MeasuredQuality,
  type PruneCriterion,
  type PruneMode,
  type PruneReport,
  type PruneScope,
  type PruneStep,
  type PruneUnitKind,
  type RelevanceOptions,
} from '../relevance/types';

export interface PruneParams {
  checkpoint: string;
  /** Held-out text: every step is evaluated on it (the `eval` protocol). */
  data: string;
  /** Text the reference samples are cut from (default: `data`). */
  reference?: string;
  /**
   * Instead of `reference`: the first `referenceSplit` of `data` (to the end of the line reached
   * there) scores the units and only the rest evaluates (./heldOut.ts splitReference).
   */
  referenceSplit?: number;
  /** Whose words the warnings' advice uses: the CLI's flags (default) or the VS Code flow's steps. */
  adviceFor?: 'cli' | 'vscode';
  criteria?: PruneCriterion[];
  units?: PruneUnitKind;
  rates?: number[];
  mode?: PruneMode;
  scope?: PruneScope;
  /** Chunks of the reference text used to score the units (default 8). */
  referenceSamples?: number;
  /** Chunk length for the reference samples and the evaluation (default: the position table). */
  seqLen?: number;
  /**
   * Output folder (default: choices.ts defaultOutputFolder: beside a training run's checkpoints
   * folder, <its parent>/<checkpoint name>-pruned, when the checkpoint's folder holds two or more
   * checkpoints; else <checkpoint folder>/<checkpoint name>-pruned).
   */
  out?: string;
  /** Seed of the random criterion and (unless bootstrapSeed) of the bootstrap resamples. */
  seed?: number;
  /** B, resamples of the evaluation chunks for the 95% intervals (default 1000). */
  bootstrap?: number;
  /**
   * Seed of the resample indices (default: seed). Sweeps with the same bootstrap seed on the same
   * evaluation chunks share their resamples, so their steps can be compared pairwise (the study).
   */
  bootstrapSeed?: number;
  relevance?: Partial<RelevanceOptions>;
  config?: string;
  /** An architecture description file (--arch); copied into every output folder. */
  arch?: string;
  tokenizer?: string;
  backend?: BackendReport;
}

export { DEFAULT_PRUNE, defaultCriteria };

/** A text read whole (at most MAX_EVAL_TEXT_BYTES: see ../core/input.ts). */
async function readText(path: string, what: string): Promise<string> {
  return readTextFileBounded(path, what, MAX_EVAL_TEXT_BYTES);
}

/** Every tensor of the checkpoint: floating point as float32, integers as stored. */
async function readStateDict(session: ModelSession): Promise<TensorToWrite[]> {
  const out: TensorToWrite[] = [];
  for (const info of session.checkpoint.tensors.values()) {
    const floating = info.dtype === 'F32' || info.dtype === 'F64' || info.dtype === 'F16' || info.dtype === 'BF16';
    out.push(floating
      ? { name: info.name, dtype: 'F32', shape: info.shape, data: await readFloat32(info) }
      : { name: info.name, dtype: info.dtype, shape: info.shape, data: await readTensorRaw(info) });
  }
  return out;
}

/** A pruned model as torch.save would have written it with the source checkpoint's code. */
export interface TorchSave {
  /** The module's state dict, with the source's wrapper prefixes (`module.`) put back. */
  tensors: TensorToWrite[];
  /** The wrapper keys (Checkpoint.stateDictLayout.stateKeys; [] = a bare state dict). */
  stateKeys: string[];
  /** Entries beside the state dict: the source's scalar metadata and saved config dicts. */
  extra?: Record<string, PickleData>;
}

/**
 * The state dict the implementation's PyTorch module has, in its own key names: `tensors` (the
 * file's, pruned) plus what the file left out and the module registers (a Hugging Face style
 * safetensors file drops them): each block's pair-index buffers under the description's
 * pairFirst / pairSecond templates (row-major pairs of the block's r, int64), and a tied head
 * under the description's lmHead key. A tied head shares the token embedding's data, so the
 * writer stores one storage, as torch.save does for `lm_head.weight = tok_embed.weight`.
 * A missing buffer goes where PyTorch's state_dict() puts it: after its module's own
 * parameters, before its child modules' tensors (GrassLM: `plucker_encoder.idx_i` before
 * `plucker_encoder.W_red.weight`); when its module has no other tensor (the alphaXiv
 * reproduction's `grassmann.plucker`), after the block's reduce bias (or weight).
 */
export function torchStateDict(spec: GrassmannSpec, tensors: readonly TensorToWrite[], layerShapes: readonly LayerShape[] = spec.layerShapes): TensorToWrite[] {
  const description = spec.description ?? ALPHAXIV;
  const templates = description.tensors;
  const out = [...tensors];
  const indexOf = (name: string): number => out.findIndex((t) => t.name === name);
  const positionFor = (key: string, l: number): number => {
    const module = key.slice(0, key.lastIndexOf('.') + 1);
    if (module) {
      const child = out.findIndex((t) => t.name.startsWith(module) && t.name.slice(module.length).includes('.'));
      if (child >= 0) return child;
      let own = -1;
      out.forEach((t, i) => {
        if (t.name.startsWith(module)) own = i;
      });
      if (own >= 0) return own + 1;
    }
    const roles = spec.roles.layers[l];
    const after = Math.max(...[roles.reduceWeight, roles.reduceBias].map((n) => (n ? indexOf(n) : -1)));
    return after >= 0 ? after + 1 : out.length;
  };
  layerShapes.forEach((shape, l) => {
    const pairs = rowMajorPairs(shape.reducedDim);
    let previous: string | null = null;
    for (const [role, values] of [['pairFirst', pairs.first], ['pairSecond', pairs.second]] as const) {
      const template = templates[role];
      if (!template) continue;
      const key = layerKey(template, l);
      if (indexOf(key) < 0) {
        const at: number = previous !== null && indexOf(previous) >= 0 ? indexOf(previous) + 1 : positionFor(key, l);
        out.splice(at, 0, { name: key, dtype: 'I64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
      }
      previous = key;
    }
  });
  const headKey = templates.lmHead;
  if (spec.variant.tiedLmHead && headKey) {
    const embedding = out.find((t) => t.name === spec.roles.global.tokenEmbedding);
    if (!embedding) throw new Error(`the state dict has no ${spec.roles.global.tokenEmbedding}`);
    const head = indexOf(headKey);
    const tied: TensorToWrite = { ...embedding, name: headKey };
    if (head >= 0) out[head] = tied;
    else out.push(tied);
  }
  return out;
}

/**
 * `tensors` saved the way the source checkpoint was (Checkpoint.stateDictLayout): under the same
 * wrapper keys (GrassLM's {"model_state_dict": ..., "config": {...}, "epoch": ...}), with the
 * stripped prefixes (`module.`) put back, the scalar metadata and the saved config dicts kept
 * (the optimizer state is not: it belongs to the unpruned weights); a bare state dict, or a
 * safetensors source, gives a bare state dict. So `torch.load(f)[stateKeys...]` goes straight
 * into the implementation's load_state_dict(strict=True).
 */
export function torchSaveOf(checkpoint: Checkpoint, tensors: readonly TensorToWrite[]): TorchSave {
  const layout = checkpoint.stateDictLayout ?? { stateKeys: [], strippedPrefixes: [] };
  const prefix = layout.strippedPrefixes.join('');
  const named = tensors.map((t) => (prefix ? { ...t, name: prefix + t.name } : t));
  if (layout.stateKeys.length === 0) return { tensors: named, stateKeys: [] };
  const extra: Record<string, PickleData> = {};
  for (const [k, v] of Object.entries(checkpoint.metadata)) extra[k] = v;
  for (const [k, v] of Object.entries(checkpoint.configs ?? {})) extra[k] = v as PickleData;
  return { tensors: named, stateKeys: [...layout.stateKeys], extra };
}

/** The tokenizer's files (the loaded one and its companions in the same folder). */
async function tokenizerFiles(path: string): Promise<string[]> {
  const folder = dirname(path);
  const names = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'merges.txt', 'vocab.json', 'special_tokens_map.json'];
  const found: string[] = [];
  for (const name of names) {
    try {
      await fs.access(join(folder, name));
      found.push(join(folder, name));
    } catch {
      // absent
    }
  }
  if (!found.includes(path)) found.push(path);
  return found;
}

function chunks(ids: readonly number[], seqLen: number, count: number): number[][] {
  const out: number[][] = [];
  for (let c = 0; c < count && (c + 1) * seqLen <= ids.length; c++) out.push(ids.slice(c * seqLen, (c + 1) * seqLen) as number[]);
  return out;
}

/** A model's numbers on the evaluation chunks, with their intervals and resamples (same for every model). */
interface Measured {
  quality: MeasuredQuality;
  replicates: Replicates;
}

async function quality(model: GrassmannModel, ids: readonly number[], seqLen: number, bootstrap: (chunks: number) => ChunkBootstrap, pause?: () => Promise<void>): Promise<Measured> {
  const e = await model.evaluate(ids, seqLen, { pause });
  const b = bootstrap(e.chunks);
  const replicates = b.replicates(e.perChunk);
  return {
    quality: { mean_nll: e.mean_nll, perplexity: e.perplexity, accuracy: e.accuracy, predictions: e.predictions, interval: b.intervals(replicates), perChunk: e.perChunk },
    replicates,
  };
}

/** Whether two paths name the same file (after links), or two texts are equal. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([a, b].map((p) => fs.realpath(p).catch(() => resolve(p))));
  return ra === rb;
}

const rateLabel = (rate: number): string => String(Math.round(rate * 1000) / 1000);


export function checkPruneParams(p: PruneParams): void {
  const kind = p.units ?? DEFAULT_PRUNE.units;
  if ((p.mode ?? DEFAULT_PRUNE.mode) === 'mask' && kind === 'windows') {
    throw new RangeError('window offsets have no weights, so mask mode cannot remove them while keeping the original code: use --mode structural');
  }
  const rates = p.rates ?? DEFAULT_PRUNE.rates;
  if (rates.length === 0) throw new RangeError('--rates needs at least one rate');
  const B = p.bootstrap ?? DEFAULT_PRUNE.bootstrap;
  const [minB, maxB] = BOOTSTRAP_RESAMPLES_RANGE;
  if (!Number.isInteger(B) || B < minB || B > maxB) throw new RangeError(`--bootstrap ${B} must be an integer in ${minB}..${maxB} (resamples of the evaluation chunks)`);
  for (const r of rates) if (!(r > 0 && r < 1)) throw new RangeError(`pruning rate ${r} must be between 0 and 1 (exclusive)`);
  if (p.referenceSplit !== undefined) {
    const problem = splitFractionProblem(p.referenceSplit);
    if (problem) throw new RangeError(problem);
    if (p.reference !== undefined) throw new RangeError('--reference and --reference-split are alternatives: a separate reference file, or the start of the evaluation file');
  }
  const criteria = p.criteria ?? defaultCriteria(kind);
  if (criteria.length === 0) throw new RangeError('at least one criterion is needed');
  for (const c of criteria) {
    const problem = criterionApplies(c, kind);
    if (problem) throw new RangeError(problem);
  }
}

/**
 * The checkpoint's model comes from `sessions` (default: opened and closed here; the worker lends
 * its cached one); each pruned copy is read back on its own. With a cancellation, the evaluations
 * stop between blocks.
 */
export async function pruneSweep(p: PruneParams, cancellation?: Cancellation, sessions: SessionProvider = freshSession): Promise<PruneReport> {
  checkPruneParams(p);
  const started = Date.now();
  const kind = p.units ?? DEFAULT_PRUNE.units;
  const criteria = [...new Set(p.criteria ?? defaultCriteria(kind))];
  const rates = [...new Set(p.rates ?? DEFAULT_PRUNE.rates)].sort((a, b) => a - b);
  const mode = p.mode ?? DEFAULT_PRUNE.mode;
  const scope = p.scope ?? DEFAULT_PRUNE.scope;
  const seed = p.seed ?? DEFAULT_PRUNE.seed;
  const resamples = p.bootstrap ?? DEFAULT_PRUNE.bootstrap;
  const bootstrapSeed = p.bootstrapSeed ?? seed;
  const referenceSamples = p.referenceSamples ?? DEFAULT_PRUNE.referenceSamples;
  if (!Number.isInteger(referenceSamples) || referenceSamples < 1) throw new RangeError(`--reference-samples ${referenceSamples} must be a positive integer`);
  const relevance: RelevanceOptions = { ...DEFAULT_RELEVANCE_OPTIONS, ...p.relevance };
  const checkpointPath = resolve(p.checkpoint);
  const out = resolve(p.out ?? defaultOutputFolder(checkpointPath, (await checkpointsInFolder(dirname(checkpointPath))).length));
  try {
    const existing = await fs.readdir(out);
    if (existing.length > 0) throw new InputError(out, 'the output folder exists and is not empty; choose another --out or remove it');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR' && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new InputError(out, 'the output path is a file, not a folder');
  }
  const fileText = await readText(p.data, 'evaluation text');
  const referencePath = p.reference ?? p.data;
  let dataText = fileText;
  let referenceText = p.reference ? await readText(p.reference, 'reference text') : fileText;
  let split: TextSplit | undefined;
  if (p.referenceSplit !== undefined) {
    const parts = splitReference(fileText, p.referenceSplit);
    ({ reference: referenceText, evaluation: dataText, split } = parts);
    if (!dataText.trim()) throw new InputError(p.data, `the evaluation text has nothing after the first ${p.referenceSplit} of it (character ${split.cut} of ${fileText.length}): lower --reference-split`);
  }
  const vscodeWords = p.adviceFor === 'vscode';
  const separateReference = vscodeWords ? 'choose another file, or a held-out part, at the Reference text step' : 'pass --reference with a separate text, or --reference-split';
  let referenceSource: 'file' | 'split' | 'evaluation' = split ? 'split' : p.reference ? 'file' : 'evaluation';

  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  const warnings: string[] = [];
  let report: PruneReport | undefined;
  try {
    const pause = pauseFor(cancellation);
    await sessions(checkpointPath, { config: p.config, arch: p.arch, tokenizer: p.tokenizer }, async (session) => {
      const spec = session.spec;
      const Tmax = spec.dims.maxPositions;
      const seqLen = p.seqLen ?? Tmax;
      if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > Tmax) throw new RangeError(`--seq-len ${seqLen} must be an integer in 2..${Tmax} (the model's position table)`);
      const dataIds = session.encode(dataText).map((t) => t.id);
      const referenceIds = p.reference || split ? session.encode(referenceText).map((t) => t.id) : dataIds;
      const samples = chunks(referenceIds, seqLen, referenceSamples);
      if (samples.length === 0) {
        const more = split ? (vscodeWords ? ': choose a larger held-out part or another reference file' : ': raise --reference-split') : '';
        throw new InputError(referencePath, `the reference text${split ? ` (the first ${split.referenceChars} characters)` : ''} has ${referenceIds.length} tokens, fewer than one sample of ${seqLen}${more}`);
      }
      if (samples.length < referenceSamples) warnings.push(`the reference text holds ${samples.length} samples of ${seqLen} tokens, not ${referenceSamples}: using ${samples.length}`);
      // The units are scored on the reference samples; evaluating on the same text is not held out.
      const notHeldOut = 'so the units are scored on text the steps are then evaluated on: the evaluation is not held out from the scoring';
      const named = (path: string): string => (vscodeWords ? `the reference text ${resolve(path)}` : `--reference ${resolve(path)}`);
      if (split) {
        // disjoint by construction (heldOut.ts): nothing to warn about
      } else if (!p.reference) {
        warnings.push(`${vscodeWords ? 'no reference text' : 'no --reference'}: the reference samples are the first ${samples.length} chunks of the evaluation text itself (${resolve(p.data)}), ${notHeldOut} (${separateReference})`);
      } else if (await sameFile(p.reference, p.data)) {
        referenceSource = 'evaluation';
        warnings.push(`${named(p.reference)} is the evaluation file itself: the reference samples are the first ${samples.length} chunks of the evaluation text, ${notHeldOut}`);
      } else if (referenceText === dataText) {
        referenceSource = 'evaluation';
        warnings.push(`${named(p.reference)} has the same content as the evaluation file ${resolve(p.data)}: the reference samples are the first ${samples.length} chunks of the evaluation text, ${notHeldOut}`);
      } else if (referenceText.trim().length > 0 && dataText.includes(referenceText)) {
        warnings.push(`the reference text ${resolve(p.reference)} occurs inside the evaluation text ${resolve(p.data)}, ${notHeldOut}`);
      }
      const model = await session.loadModel();
      warnings.push(...session.notices, ...model.warnings);
      const state = await readStateDict(session);
      const stateByName = new Map(state.map((t) => [t.name, t]));
      const weight = (name: string): Float32Array => stateByName.get(name)!.data as Float32Array;
      const units = spec.layerShapes.map((_, l) => unitsOfLayer(spec, l, kind));
      const tokenizerSources = await tokenizerFiles(session.tokenizer.path);
      const totalWork = criteria.length * (samples.length + rates.length) + 1;
      let done = 0;
      const progress = (message: string): void => cancellation?.progress({ done, total: totalWork, message });

      progress('evaluating the unpruned model');
      // One bootstrap for every model: the chunks are the same, so are the resamples (paired).
      let bootstrap: ChunkBootstrap | undefined;
      const bootstrapFor = (chunks: number): ChunkBootstrap => {
        bootstrap ??= new ChunkBootstrap(chunks, seqLen - 1, resamples, bootstrapSeed, BOOTSTRAP_LEVEL);
        if (bootstrap.chunks !== chunks) throw new Error(`a step was evaluated on ${chunks} chunks, the baseline on ${bootstrap.chunks}`);
        return bootstrap;
      };
      const measuredBaseline = await quality(model, dataIds, seqLen, bootstrapFor, pause);
      const baseline = measuredBaseline.quality;
      const chunkCount = baseline.perChunk.nll.length;
      if (baseline.predictions < SMALL_EVALUATION_PREDICTIONS) {
        warnings.push(`the evaluation text gives only ${baseline.predictions} predictions (${chunkCount} chunks of ${seqLen} tokens), fewer than ${SMALL_EVALUATION_PREDICTIONS}: the 95% intervals rest on ${chunkCount} resampling units and are wide; use a longer evaluation text`);
      }
      const replicatesOf = new Map<PruneStep, Replicates>();
      done++;
      await fs.mkdir(staging, { recursive: true });
      const steps: PruneStep[] = [];
      for (const criterion of criteria) {
        throwIfCancelled(cancellation);
        progress(`${criterion}: scoring ${kind} units on ${samples.length} reference samples`);
        const raw = await scoreUnits(model, samples, criterion, kind, weight, {
          relevance,
          seed,
          cancellation,
          onSample: () => {
            done++;
            progress(`${criterion}: scoring ${kind} units`);
          },
        });
        const scores = normalisePerLayer(raw);
        for (const rate of rates) {
          throwIfCancelled(cancellation);
          progress(`${criterion}: pruning ${Math.round(rate * 100)}% and evaluating`);
          const removed = selectUnits(units, scores, rate, scope, kind);
          const pruned = pruneStateDict(spec, state, kind, removed, mode);
          const name = `${criterion}-${rateLabel(rate)}`;
          const folder = join(staging, name);
          await fs.mkdir(folder);
          const metadata = { format: 'pt', pruned_by: 'grassmann-lens', criterion, rate: String(rate), units: kind, mode };
          const headKey = spec.variant.tiedLmHead ? (spec.description ?? ALPHAXIV).tensors.lmHead : undefined;
          // Hugging Face style: no tied head in safetensors (the alphaXiv fixture's layout).
          const safetensors = pruned.tensors.filter((t) => t.name !== headKey);
          await writeSafetensors(join(folder, 'model.safetensors'), safetensors, metadata);
          const config = mode === 'structural'
            ? await prunedConfigFor(spec, pruned.layerShapes)
            : await configJsonOf(spec);
          await fs.writeFile(join(folder, 'config.json'), JSON.stringify(config, null, 1) + '\n');
          const files = [join(folder, 'model.safetensors'), join(folder, 'config.json')];
          if (mode === 'mask') {
            const save = torchSaveOf(session.checkpoint, torchStateDict(spec, pruned.tensors, pruned.layerShapes));
            await writeTorchCheckpoint(join(folder, 'model.pt'), save.tensors, save.extra, { stateKeys: save.stateKeys });
            files.push(join(folder, 'model.pt'));
          }
          for (const source of tokenizerSources) {
            await fs.copyFile(source, join(folder, basename(source)));
            files.push(join(folder, basename(source)));
          }
          // A model that follows a description file keeps it beside each pruned copy.
          if (spec.implementation.source !== 'built-in') {
            await fs.copyFile(spec.implementation.source, join(folder, ARCHITECTURE_FILE_NAME));
            files.push(join(folder, ARCHITECTURE_FILE_NAME));
          }
          // The step's numbers: the written checkpoint, read back and evaluated like `eval`.
          const measured = await ModelSession.with(join(folder, 'model.safetensors'), { arch: spec.implementation.source !== 'built-in' ? join(folder, ARCHITECTURE_FILE_NAME) : undefined }, async (written) =>
            quality(await written.loadModel(), dataIds, seqLen, bootstrapFor, pause));
          const metrics = measured.quality;
          const deltaNll = { value: metrics.mean_nll - baseline.mean_nll, interval: bootstrap!.differenceInterval(measured.replicates, measuredBaseline.replicates) };
          const remaining = units.map((u, l) => u.length - removed.filter((x) => x.layer === l).length);
          const step: PruneStep = { criterion, rate, removed, remaining, ...metrics, output: join(out, name), files: files.map((f) => f.replace(staging, out)), deltaNll };
          await fs.writeFile(join(folder, 'pruning.json'), JSON.stringify({
            checkpoint: checkpointPath, criterion, rate, units: kind, mode, scope, data: resolve(p.data), reference: resolve(referencePath), referenceSource, split, referenceSamples: samples.length, seqLen,
            relevance: criterion.startsWith('lrp') ? relevance : undefined, baseline, metrics, deltaNll, remaining, removed,
          }, null, 1) + '\n');
          steps.push(step);
          replicatesOf.set(step, measured.replicates);
          done++;
          progress(`${criterion} ${Math.round(rate * 100)}%: perplexity ${metrics.perplexity.toFixed(2)}`);
        }
      }
      const comparisons: CriterionComparison[] = [];
      for (const rate of rates) {
        const atRate = criteria.map((c) => steps.find((s) => s.criterion === c && s.rate === rate)!);
        for (let i = 0; i < atRate.length; i++) {
          for (let j = i + 1; j < atRate.length; j++) {
            const [a, b] = [atRate[i], atRate[j]];
            const interval = bootstrap!.differenceInterval(replicatesOf.get(a)!, replicatesOf.get(b)!);
            const overlap = intervalsOverlap(a.interval.perplexity, b.interval.perplexity);
            comparisons.push({
              rate, a: a.criterion, b: b.criterion, deltaNll: { value: a.mean_nll - b.mean_nll, interval },
              overlap, separable: !overlap, pairedExcludesZero: interval.low > 0 || interval.high < 0,
            });
          }
        }
      }
      report = {
        checkpoint: checkpointPath,
        data: resolve(p.data),
        reference: resolve(referencePath),
        referenceSource,
        ...(split ? { split } : {}),
        units: kind,
        mode,
        scope,
        rates,
        criteria,
        referenceSamples: samples.length,
        seqLen,
        seed,
        relevance,
        baseline,
        steps,
        conventions: [
          ...scoringConventions(criteria),
          ...(criteria.some((c) => c === 'lrp' || c === 'lrp-signed')
            ? describeRules(spec.variant, relevance, new RuleBook(relevance, spec.layerShapes.length)).map((line) => `LRP ${line}`)
            : []),
        ],
        bootstrap: {
          method: 'percentile',
          level: BOOTSTRAP_LEVEL,
          resamples,
          seed: bootstrapSeed,
          unit: resamplingUnit(seqLen),
          chunks: chunkCount,
          predictionsPerChunk: seqLen - 1,
          paired: true,
          quantile: QUANTILE_RULE,
          separability: SEPARABILITY_RULE,
        },
        comparisons,
        notSeparable: comparisons.filter((c) => !c.separable).map((c) => ({ rate: c.rate, criteria: [c.a, c.b] as [PruneCriterion, PruneCriterion] })),
        unitsPerLayer: units.map((u) => u.length),
        output: out,
        backend: p.backend?.active ?? tf.getBackend(),
        seconds: (Date.now() - started) / 1000,
        warnings: [...new Set(warnings)],
      };
      await fs.writeFile(join(staging, 'pruning.json'), JSON.stringify(report, null, 1) + '\n');
    });
    throwIfCancelled(cancellation);
    await fs.rm(out, { recursive: true, force: true }); // empty (checked above) or absent
    await fs.rename(staging, out);
    return report!;
  } catch (e) {
    // Cancelled (OperationCancelled) or failed: nothing of the sweep stays on disk.
    await fs.rm(staging, { recursive: true, force: true });
    throw e;
  }
}
