/**
 * `drift` and `compare`: how weights move between checkpoints of one run, and how two runs relate,
 * measured in ways that do not depend on the basis training picked (subspaces, principal angles)
 * next to plain relative change. Weights only: no forward pass, no backend.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { openCheckpoint } from '../checkpoint/open';
import { savedNumber } from '../checkpoint/catalogue';
import { CHECKPOINT_EXTENSIONS, checkpointsInFolder, compareNames as naturalCompare } from '../checkpoint/files';
import { readFloat32 } from '../checkpoint/tensorData';
import type { Checkpoint, TensorInfo } from '../checkpoint/types';
import { distanceFromAngles } from '../geometry/angles';
import type { RowBasis } from '../geometry/linalg';
import { informativeSide, relativeChange, subspaceAngles, weightSpectrum, weightSubspace, type MatrixSide, type WeightSpectrum } from '../geometry/weights';
import { describeModel, type GrassmannSpec, type LayerRoles } from '../model/spec';
import { InputError, UsageError } from '../util/errors';
import { throwIfCancelled, type Cancellation } from './cancellation';

export interface SubspaceDistance {
  /** Which span: the row space (what the weight reads) or the column space (what it writes). */
  side: MatrixSide;
  /** Ranks of the two subspaces. */
  ranks: [number, number];
  /** Dimension of the space they live in. */
  ambient: number;
  /** Principal angles, ascending (radians). */
  angles: number[];
  geodesic: number;
  projection: number;
  /** The largest principal angle. */
  maxAngle: number;
}

function subspaceDistance(a: RowBasis, b: RowBasis, side: MatrixSide): SubspaceDistance {
  const angles = subspaceAngles(a, b);
  return {
    side,
    ranks: [a.rank, b.rank],
    ambient: a.basis.cols,
    angles: Array.from(angles),
    geodesic: distanceFromAngles('geodesic', angles),
    projection: distanceFromAngles('projection', angles),
    maxAngle: angles.length ? angles[angles.length - 1] : 0,
  };
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Role (state-dict role name) and layer of each tensor of a recognised model. */
function rolesByTensor(spec: GrassmannSpec | null): Map<string, { role: string; layer: number | null }> {
  const roles = new Map<string, { role: string; layer: number | null }>();
  if (!spec) return roles;
  for (const [role, key] of Object.entries(spec.roles.global)) if (key) roles.set(key, { role, layer: null });
  spec.roles.layers.forEach((layerRoles, layer) => {
    for (const [role, key] of Object.entries(layerRoles as LayerRoles)) roles.set(key, { role, layer });
  });
  return roles;
}

const LAYER_IN_NAME = /(?:^|\.)(?:blocks|layers|layer|h)\.(\d+)\./;

// ---------------------------------------------------------------------------------------------
// drift
// ---------------------------------------------------------------------------------------------

export interface DriftParams {
  /** Checkpoint files, or one folder holding them. */
  paths: string[];
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  /**
   * Subspace distances for every non-square 2-D weight of the layers, not only W_red. Slow for
   * large weights: orthonormalising a [1024, 256] weight costs ~0.3 G flops per checkpoint.
   */
  allSubspaces?: boolean;
}

export interface TensorDrift {
  name: string;
  layer: number | null;
  /** The architecture's name for the tensor (reduceWeight, ffnInWeight, ...), when recognised. */
  role: string | null;
  /** ||W_to - W_from||_F / ||W_to||_F. */
  relativeChange: number;
  subspace?: SubspaceDistance;
}

export interface DriftStep {
  /** Indices into `checkpoints`. */
  from: number;
  to: number;
  tensors: TensorDrift[];
}

/**
 * The numbers a training script saved beside the weights (torch.save dict scalars, safetensors
 * __metadata__ strings that parse as numbers), e.g. val_loss, val_ppl, step; epoch is separate.
 */
export type CheckpointMetrics = Record<string, number>;

/** Numeric metadata of a checkpoint, except `epoch`. */
export function metricsOf(metadata: Record<string, unknown>): CheckpointMetrics {
  const metrics: CheckpointMetrics = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (key === 'epoch') continue;
    const n = savedNumber(metadata, key);
    if (n !== null) metrics[key] = n;
  }
  return metrics;
}

export interface DriftReport {
  checkpoints: { path: string; epoch: number | null; metrics: CheckpointMetrics }[];
  orderedBy: 'epoch' | 'name';
  /** Tensors with subspace distances, and the side compared. */
  subspaces: { name: string; side: MatrixSide }[];
  /** Checkpoint i to i+1. */
  consecutive: DriftStep[];
  /** Checkpoint i to the last one. */
  toLast: DriftStep[];
  warnings: string[];
}

/** Numbers inside names compare as numbers: epoch_2 < epoch_10. */
async function checkpointFiles(paths: string[]): Promise<string[]> {
  if (paths.length === 1) {
    const path = paths[0];
    let isFolder = false;
    try {
      isFolder = (await fs.stat(path)).isDirectory();
    } catch (e) {
      throw new InputError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : `cannot read (${(e as NodeJS.ErrnoException).code})`);
    }
    if (isFolder) {
      const files = await checkpointsInFolder(path);
      if (files.length < 2) throw new InputError(path, `drift needs at least two checkpoints; this folder has ${files.length} (${CHECKPOINT_EXTENSIONS.map((e) => `.${e}`).join(', ')})`);
      return files;
    }
  }
  if (paths.length < 2) throw new UsageError('drift needs at least two checkpoints, or a folder of them');
  return paths;
}

export async function driftOfCheckpoints(params: DriftParams, control?: Cancellation): Promise<DriftReport> {
  const files = await checkpointFiles(params.paths);
  const opened: Checkpoint[] = [];
  try {
    for (const f of files) opened.push(await openCheckpoint(f));
    // torch.save dicts carry numbers; safetensors __metadata__ only strings ("3").
    const epochs = opened.map((c) => savedNumber(c.metadata, 'epoch'));
    const byEpoch = epochs.every((e) => e !== null);
    const order = opened.map((_, i) => i).sort((i, j) => (byEpoch ? epochs[i]! - epochs[j]! : 0) || naturalCompare(basename(files[i]), basename(files[j])));
    const checkpoints = order.map((i) => opened[i]);
    const last = checkpoints[checkpoints.length - 1];
    const described = await describeModel(last, { configPath: params.config, archPath: params.arch });
    const spec = described.recognized ? described.spec : null;
    const roles = rolesByTensor(spec);
    const warnings: string[] = [];
    if (!spec) warnings.push(`${last.path} is not a recognised GrassmannGPT (${described.recognized ? '' : described.problems.join('; ')}): tensors are compared by name only`);

    // Tensors present, with the same shape and a float dtype, in every checkpoint.
    const names = [...last.tensors.values()]
      .filter((t) => FLOAT_DTYPES.has(t.dtype))
      .map((t) => t.name)
      .filter((name) => checkpoints.every((c) => {
        const t = c.tensors.get(name);
        return t && FLOAT_DTYPES.has(t.dtype) && t.shape.join() === last.tensors.get(name)!.shape.join();
      }));
    const skipped = [...last.tensors.keys()].filter((n) => FLOAT_DTYPES.has(last.tensors.get(n)!.dtype) && !names.includes(n));
    if (skipped.length) warnings.push(`not in every checkpoint with the same shape, so not compared: ${skipped.join(', ')}`);
    const layerOf = (name: string): number | null => {
      const known = roles.get(name);
      if (known) return known.layer;
      const match = LAYER_IN_NAME.exec(name);
      return match ? Number(match[1]) : null;
    };
    const subspaces = names
      .map((name) => ({ name, side: last.tensors.get(name)!.shape.length === 2 ? informativeSide(last.tensors.get(name)!.shape) : null }))
      .filter((s): s is { name: string; side: MatrixSide } => s.side !== null && (params.allSubspaces === true ? layerOf(s.name) !== null : roles.get(s.name)?.role === 'reduceWeight'));

    const n = checkpoints.length;
    const consecutive: DriftStep[] = Array.from({ length: n - 1 }, (_, i) => ({ from: i, to: i + 1, tensors: [] }));
    const toLast: DriftStep[] = Array.from({ length: n - 1 }, (_, i) => ({ from: i, to: n - 1, tensors: [] }));
    // One tensor at a time through all checkpoints: memory stays at three copies of one tensor.
    for (const [done, name] of names.entries()) {
      throwIfCancelled(control);
      control?.progress({ done, total: names.length, message: name });
      const role = roles.get(name)?.role ?? null;
      const layer = layerOf(name);
      const shape = last.tensors.get(name)!.shape;
      const side = subspaces.find((s) => s.name === name)?.side;
      const read = (c: Checkpoint) => readFloat32(c.tensors.get(name) as TensorInfo);
      const basis = (values: Float32Array) => (side ? weightSubspace(values, shape, side) : null);
      const lastValues = await read(last);
      const lastBasis = basis(lastValues);
      let previous: { values: Float32Array; basis: RowBasis | null } | null = null;
      for (let i = 0; i < n; i++) {
        const values = i === n - 1 ? lastValues : await read(checkpoints[i]);
        const current = { values, basis: i === n - 1 ? lastBasis : basis(values) };
        const entry = (a: typeof current, b: typeof current): TensorDrift => ({
          name,
          layer,
          role,
          relativeChange: relativeChange(a.values, b.values),
          ...(side && a.basis && b.basis ? { subspace: subspaceDistance(a.basis, b.basis, side) } : {}),
        });
        if (previous) consecutive[i - 1].tensors.push(entry(previous, current));
        if (i < n - 1) toLast[i].tensors.push(entry(current, { values: lastValues, basis: lastBasis }));
        previous = current;
      }
    }
    return {
      checkpoints: checkpoints.map((c, i) => ({ path: c.path, epoch: epochs[order[i]], metrics: metricsOf(c.metadata) })),
      orderedBy: byEpoch ? 'epoch' : 'name',
      subspaces,
      consecutive,
      toLast,
      warnings,
    };
  } finally {
    for (const c of opened) await c.close();
  }
}

export function formatDriftReport(r: DriftReport): string {
  const lines = [`${r.checkpoints.length} checkpoints, ordered by ${r.orderedBy}:`];
  r.checkpoints.forEach((c, i) => {
    const metrics = Object.entries(c.metrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(6)}`);
    lines.push(`  [${i}] ${c.path}${c.epoch !== null ? ` (epoch ${c.epoch})` : ''}${metrics.length ? `  ${metrics.join(', ')}` : ''}`);
  });
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  const step = (s: DriftStep, title: string) => {
    lines.push('', title);
    const byLayer = new Map<string, TensorDrift[]>();
    for (const t of s.tensors) {
      const key = t.layer === null ? 'global' : `layer ${t.layer}`;
      byLayer.set(key, [...(byLayer.get(key) ?? []), t]);
    }
    for (const [key, tensors] of byLayer) {
      const mean = tensors.reduce((a, t) => a + t.relativeChange, 0) / tensors.length;
      const subspace = tensors.filter((t) => t.subspace).map((t) => `${t.role ?? t.name} ${t.subspace!.side} geodesic ${t.subspace!.geodesic.toFixed(4)} (max angle ${t.subspace!.maxAngle.toFixed(4)} rad)`);
      const largest = tensors.reduce((a, t) => (t.relativeChange > a.relativeChange ? t : a));
      lines.push(`  ${key.padEnd(9)} mean relative change ${mean.toExponential(3)}, largest ${largest.role ?? largest.name} ${largest.relativeChange.toExponential(3)}${subspace.length ? '; ' + subspace.join('; ') : ''}`);
    }
  };
  r.consecutive.forEach((s) => step(s, `[${s.from}] -> [${s.to}]`));
  r.toLast.slice(0, -1).forEach((s) => step(s, `[${s.from}] -> last [${s.to}]`));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------------------------

export interface CompareParams {
  a: string;
  b: string;
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  /** Compare this tensor of A (and `with` of B, default the same name) instead of the model's W_red. */
  tensor?: string;
  with?: string;
}

export interface TensorComparison {
  a: string;
  b: string;
  shape: [number[], number[]];
  /** When the shapes are equal. */
  relativeChange: number | null;
  rows: SubspaceDistance | null;
  columns: SubspaceDistance | null;
  spectra: [WeightSpectrum, WeightSpectrum];
}

export interface CompareReport {
  a: string;
  b: string;
  /** Per layer: principal angles between the row spaces of W_red in A and in B. */
  layers: { layer: number; reduce: SubspaceDistance }[];
  /** Geodesic distances between W_red row spaces of every layer of A (rows) and of B (columns). */
  crossLayer: number[][];
  /** Spectra of W_red and W_plu per layer, for A and B. */
  spectra: { a: { layer: number; reduce: WeightSpectrum; plucker: WeightSpectrum }[]; b: { layer: number; reduce: WeightSpectrum; plucker: WeightSpectrum }[] };
  tensor: TensorComparison | null;
  warnings: string[];
}

async function compareTensors(a: Checkpoint, nameA: string, b: Checkpoint, nameB: string): Promise<TensorComparison> {
  const ta = a.tensors.get(nameA);
  const tb = b.tensors.get(nameB);
  if (!ta) throw new InputError(a.path, `has no tensor ${nameA}`);
  if (!tb) throw new InputError(b.path, `has no tensor ${nameB}`);
  for (const [t, c] of [[ta, a], [tb, b]] as const) {
    if (t.shape.length !== 2) throw new InputError(c.path, `${t.name} has shape [${t.shape.join(', ')}]; subspaces need a 2-D weight`);
  }
  const [va, vb] = [await readFloat32(ta), await readFloat32(tb)];
  const side = (s: MatrixSide): SubspaceDistance | null => {
    const ambientA = s === 'rows' ? ta.shape[1] : ta.shape[0];
    const ambientB = s === 'rows' ? tb.shape[1] : tb.shape[0];
    if (ambientA !== ambientB) return null;
    return subspaceDistance(weightSubspace(va, ta.shape, s), weightSubspace(vb, tb.shape, s), s);
  };
  return {
    a: nameA,
    b: nameB,
    shape: [ta.shape.slice(), tb.shape.slice()],
    relativeChange: ta.shape.join() === tb.shape.join() ? relativeChange(va, vb) : null,
    rows: side('rows'),
    columns: side('columns'),
    spectra: [weightSpectrum(va, ta.shape), weightSpectrum(vb, tb.shape)],
  };
}

export async function compareCheckpoints(params: CompareParams): Promise<CompareReport> {
  const a = await openCheckpoint(params.a);
  let b: Checkpoint | undefined;
  try {
    b = await openCheckpoint(params.b);
    const warnings: string[] = [];
    const tensor = params.tensor ? await compareTensors(a, params.tensor, b, params.with ?? params.tensor) : null;
    const [da, db] = [await describeModel(a, { configPath: params.config, archPath: params.arch }), await describeModel(b, { configPath: params.config, archPath: params.arch })];
    if (!da.recognized || !db.recognized) {
      if (!tensor) {
        const which = !da.recognized ? { c: a, d: da } : { c: b, d: db as typeof da };
        throw new InputError(which.c.path, `not a recognised GrassmannGPT, so it has no W_red to compare (${which.d.recognized ? '' : which.d.problems.join('; ')}); name a tensor with --tensor`);
      }
      warnings.push('not both recognised GrassmannGPT checkpoints: only --tensor is compared');
      return { a: a.path, b: b.path, layers: [], crossLayer: [], spectra: { a: [], b: [] }, tensor, warnings };
    }
    const [sa, sb] = [da.spec, db.spec];
    if (sa.dims.modelDim !== sb.dims.modelDim) {
      throw new InputError(b.path, `model width ${sb.dims.modelDim} differs from ${a.path}'s ${sa.dims.modelDim}: their W_red row spaces live in different spaces`);
    }
    if (sa.dims.layers !== sb.dims.layers) warnings.push(`${a.path} has ${sa.dims.layers} layers and ${b.path} ${sb.dims.layers}: per-layer comparisons cover the first ${Math.min(sa.dims.layers, sb.dims.layers)}`);
    const load = async (c: Checkpoint, spec: GrassmannSpec) => {
      const out: { basis: RowBasis; reduce: WeightSpectrum; plucker: WeightSpectrum }[] = [];
      for (const roles of spec.roles.layers) {
        const red = c.tensors.get(roles.reduceWeight)!;
        const plu = c.tensors.get(roles.pluckerWeight)!;
        const [redValues, pluValues] = [await readFloat32(red), await readFloat32(plu)];
        out.push({ basis: weightSubspace(redValues, red.shape, 'rows'), reduce: weightSpectrum(redValues, red.shape), plucker: weightSpectrum(pluValues, plu.shape) });
      }
      return out;
    };
    const [la, lb] = [await load(a, sa), await load(b, sb)];
    const common = Math.min(la.length, lb.length);
    return {
      a: a.path,
      b: b.path,
      layers: Array.from({ length: common }, (_, l) => ({ layer: l, reduce: subspaceDistance(la[l].basis, lb[l].basis, 'rows') })),
      crossLayer: la.map((x) => lb.map((y) => distanceFromAngles('geodesic', subspaceAngles(x.basis, y.basis)))),
      spectra: {
        a: la.map((x, layer) => ({ layer, reduce: x.reduce, plucker: x.plucker })),
        b: lb.map((y, layer) => ({ layer, reduce: y.reduce, plucker: y.plucker })),
      },
      tensor,
      warnings,
    };
  } finally {
    await a.close();
    await b?.close();
  }
}

export function formatCompareReport(r: CompareReport): string {
  const lines = [`A = ${r.a}`, `B = ${r.b}`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.layers.length) {
    lines.push('', 'W_red row spaces, A vs B, per layer (angles in radians):');
    for (const { layer, reduce } of r.layers) {
      lines.push(`  layer ${layer}: geodesic ${reduce.geodesic.toFixed(4)}, projection ${reduce.projection.toFixed(4)}, angles ${reduce.angles.map((x) => x.toFixed(3)).join(' ')}`);
    }
    lines.push('', 'geodesic distance between W_red row spaces, layer of A (rows) x layer of B (columns):');
    r.crossLayer.forEach((row, i) => lines.push(`  ${String(i).padStart(2)}  ${row.map((v) => v.toFixed(3).padStart(7)).join(' ')}`));
    lines.push('', 'effective rank (Roy-Vetterli) of W_red / W_plu per layer:');
    r.spectra.a.forEach((x, l) => {
      const y = r.spectra.b[l];
      lines.push(`  layer ${l}: A ${x.reduce.effectiveRank.toFixed(2)} / ${x.plucker.effectiveRank.toFixed(2)}${y ? `   B ${y.reduce.effectiveRank.toFixed(2)} / ${y.plucker.effectiveRank.toFixed(2)}` : ''}`);
    });
  }
  if (r.tensor) {
    const t = r.tensor;
    lines.push('', `${t.a} [${t.shape[0].join(', ')}] (A) vs ${t.b} [${t.shape[1].join(', ')}] (B):`);
    if (t.relativeChange !== null) lines.push(`  relative change ||A - B|| / ||B|| ${t.relativeChange.toExponential(4)}`);
    for (const s of [t.rows, t.columns]) {
      if (s) lines.push(`  ${s.side === 'rows' ? 'row' : 'column'} spaces (ranks ${s.ranks.join(', ')} in R^${s.ambient}): geodesic ${s.geodesic.toFixed(4)}, max angle ${s.maxAngle.toFixed(4)} rad`);
    }
    lines.push(`  effective rank ${t.spectra[0].effectiveRank.toFixed(2)} (A), ${t.spectra[1].effectiveRank.toFixed(2)} (B)`);
  }
  return lines.join('\n');
}
