/**
 * A Grassmann language model recognised from its tensors, as data.
 *
 * A checkpoint is recognised by matching its tensor names and shapes against an architecture
 * description (./architecture.ts): every role has a key template (`{l}`: the block index) and a
 * symbolic shape (ROLE_SHAPES). The built-in descriptions (alphaXiv reproduction, GrassLM,
 * LMConfig) are tried in order, or the one the user gave (--arch, grassmann-lens.arch.json).
 * The global dimensions (V, d, Tmax) are bound from the first tensor that carries them and every
 * other tensor is checked against them; the block dimensions (r, f) are bound per block, from
 * that block's first tensor that carries them (W_red rows, the FFN's first rows), plus two derived
 * sizes: the Plücker pair count P_l = r_l(r_l-1)/2 (input of W_plu) and the gate input 2d.
 * A trained checkpoint has the same r and f in every block; a structurally pruned one
 * (../pruning) has its own per block: `GrassmannSpec.layerShapes[l]`.
 *
 * What the weights cannot tell (window offsets, block layout switches such as LMConfig's
 * pre_norm, LayerNorm eps) comes from the implementation's own config keys (./config.ts), or its
 * defaults, shown as *assumed*. The runtime (./grassmann.ts) reads only the resulting
 * `GrassmannSpec`.
 *
 * An unrecognised checkpoint is not an error: `describeModel` returns `{ recognized: false,
 * problems }` naming what the closest description misses, and the checkpoint stays open for
 * tensor inspection.
 */
import { readFloat32, rowSlice } from '../checkpoint/tensorData';
import { elementCount, type Checkpoint, type TensorInfo } from '../checkpoint/types';
import {
  ALPHAXIV,
  BUILT_IN_ARCHITECTURES,
  GLOBAL_ROLES,
  LAYER_ROLES,
  OPTIONAL_BIAS_ROLES,
  requiredRoles,
  type ArchitectureDescription,
  type ArchitectureOptions,
  type GlobalRole,
  type LayerRole,
  type MixOutput,
  type PairingRule,
} from './architecture';
import { resolveModelConfig, type ResolvedConfig } from './config';
import { resolveArchitecture } from './archFile';

export type { PairingRule } from './architecture';
/** What the mixing module returns (./architecture.ts MIX_OUTPUTS). */
export type GatingRule = MixOutput;

export interface ModelDims {
  /** V: rows of the token embedding. */
  vocabSize: number;
  /** d: model width. */
  modelDim: number;
  /** L: number of blocks. */
  layers: number;
  /**
   * r: rows of W_red, the dimension of z, in block 0. Every block's in a trained checkpoint; a
   * pruned model's blocks may differ: read a block's own from GrassmannSpec.layerShapes[l].
   */
  reducedDim: number;
  /** P = r(r-1)/2: Plücker coordinates per 2-plane (input of W_plu), block 0's (see reducedDim). */
  pairCount: number;
  /** f: feed-forward width, block 0's (see reducedDim). */
  ffDim: number;
  /** Tmax: rows of the position embedding, the longest sequence the model can read. */
  maxPositions: number;
}

/** State-dict keys of the tensors outside the blocks. */
export interface GlobalRoles {
  tokenEmbedding: string;
  /** null when the model has no learned positions (options.positions = 'none'). */
  positionEmbedding: string | null;
  finalNormWeight: string;
  finalNormBias: string;
  /** Key of an untied output projection, or null when it is the token embedding (tied). */
  lmHead: string | null;
}

/**
 * State-dict keys of one block's tensors. A bias the implementation leaves out is null (zeros);
 * mixNorm is null unless the description has a LayerNorm inside the mixing module.
 */
export interface LayerRoles {
  norm1Weight: string;
  norm1Bias: string;
  reduceWeight: string;
  reduceBias: string | null;
  pluckerWeight: string;
  pluckerBias: string | null;
  gateWeight: string;
  gateBias: string | null;
  mixNormWeight: string | null;
  mixNormBias: string | null;
  norm2Weight: string;
  norm2Bias: string;
  ffnInWeight: string;
  ffnInBias: string | null;
  ffnOutWeight: string;
  ffnOutBias: string | null;
  /** Keys of the pair-index buffers when the file has them (written back by the pruning writers). */
  pairFirst: string | null;
  pairSecond: string | null;
}

/** The resolved options of ./architecture.ts, plus what the weights tell. */
export interface GrassmannVariant extends ArchitectureOptions {
  /** lm_head shares the token embedding. */
  tiedLmHead: boolean;
}

/**
 * The sizes of one block. Uniform in a trained checkpoint; a structurally pruned model
 * (../pruning) has its own reduced dimension, FFN width and window list per block.
 */
export interface LayerShape {
  /** r_l: rows of this block's W_red. */
  reducedDim: number;
  /** r_l(r_l-1)/2 */
  pairCount: number;
  /** f_l: rows of this block's first FFN weight. */
  ffDim: number;
  /** This block's window offsets (duplicates count twice in the mean). */
  windowSizes: number[];
  /** Row-major pairs of r_l. */
  pairFirst: number[];
  pairSecond: number[];
}

/** Which implementation a spec follows. */
export interface ImplementationInfo {
  /** alphaxiv, grasslm, lmconfig, or a description file's name. */
  id: string;
  label: string;
  /** 'built-in' or the description file's path. */
  source: string;
}

export interface GrassmannSpec {
  architecture: 'GrassmannGPT';
  implementation: ImplementationInfo;
  /** The description followed (templates for writers, config keys). */
  description: ArchitectureDescription;
  variant: GrassmannVariant;
  dims: ModelDims;
  /**
   * The model's window list: the config's windows or the implementation's default, which every
   * block applies unless the config gives a block its own (then layerShapes[l].windowSizes; for a
   * one-offset-per-block schedule (GrassLM), the schedule itself). Duplicates count twice in the
   * mean. Per-block code reads layerShapes[l].windowSizes.
   */
  windowSizes: number[];
  windowSource: 'config' | 'assumed';
  /** Why these windows (config file, or which default rule). */
  windowNote: string;
  /** Everything taken from a default rather than from the config, one line each (shown *assumed*). */
  assumed: string[];
  layerNormEps: number;
  /** The config the windows / options came from (a file, or `<checkpoint>#key`), or null. */
  configPath: string | null;
  /** That config's object (written back, updated, with pruned copies). */
  configObject?: Record<string, unknown> | null;
  /**
   * Pair order of the Plücker coordinates: pair k is (pairFirst[k], pairSecond[k]), i < j, always
   * row-major (rowMajorPairs; checkpoints whose pair-index buffers say otherwise are not
   * recognised), which the runtime's kernels and taps rely on. Block 0's (r = dims.reducedDim);
   * each block's own is in layerShapes[l].
   */
  pairFirst: number[];
  pairSecond: number[];
  roles: { global: GlobalRoles; layers: LayerRoles[] };
  /** Sizes per block (index = block). */
  layerShapes: LayerShape[];
  /** Tensors present in the checkpoint that the architecture does not use. */
  unusedTensors: string[];
  warnings: string[];
}

export type SpecResult =
  | { recognized: true; spec: GrassmannSpec }
  | { recognized: false; architecture: 'unknown'; problems: string[]; warnings: string[]; closest?: string };

// ---------------------------------------------------------------------------------------------
// The shapes of the roles
// ---------------------------------------------------------------------------------------------

/** Base dimensions, bound from the weights. */
type BaseSymbol = 'V' | 'd' | 'Tmax' | 'r' | 'f';
/** Sizes derived from base dimensions. */
type DerivedSymbol = 'P' | 'twoD';
type DimSymbol = BaseSymbol | DerivedSymbol;

interface DerivedDim {
  formula: string;
  needs: BaseSymbol[];
  value(dims: Partial<Record<BaseSymbol, number>>): number;
}

const DERIVED: Readonly<Record<DerivedSymbol, DerivedDim>> = {
  P: { formula: 'r(r-1)/2', needs: ['r'], value: (b) => (b.r! * (b.r! - 1)) / 2 },
  twoD: { formula: '2d', needs: ['d'], value: (b) => 2 * b.d! },
};

interface AxisSpec {
  symbol: DimSymbol;
  /** What the axis is, for messages: "input", "output", "rows", ... */
  label: string;
}

const out = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'output' });
const inp = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'input' });
const vec = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'length' });

/**
 * The symbolic shape of every role, in the order tensors are checked: a block binds r from W_red
 * before W_plu needs it, and f from the FFN's first weight before its second.
 */
export const ROLE_SHAPES: Readonly<Record<GlobalRole | LayerRole, AxisSpec[]>> = {
  tokenEmbedding: [{ symbol: 'V', label: 'rows' }, { symbol: 'd', label: 'columns' }],
  positionEmbedding: [{ symbol: 'Tmax', label: 'rows' }, { symbol: 'd', label: 'columns' }],
  finalNormWeight: [vec('d')],
  finalNormBias: [vec('d')],
  lmHead: [{ symbol: 'V', label: 'rows' }, { symbol: 'd', label: 'columns' }],
  norm1Weight: [vec('d')],
  norm1Bias: [vec('d')],
  reduceWeight: [out('r'), inp('d')],
  reduceBias: [vec('r')],
  pluckerWeight: [out('d'), inp('P')],
  pluckerBias: [vec('d')],
  gateWeight: [out('d'), inp('twoD')],
  gateBias: [vec('d')],
  mixNormWeight: [vec('d')],
  mixNormBias: [vec('d')],
  norm2Weight: [vec('d')],
  norm2Bias: [vec('d')],
  ffnInWeight: [out('f'), inp('d')],
  ffnInBias: [vec('f')],
  ffnOutWeight: [out('d'), inp('f')],
  ffnOutBias: [vec('d')],
};

/** Pairs (i, j), i < j, in row-major order (0,1),(0,2),...,(0,r-1),(1,2),... */
export function rowMajorPairs(reducedDim: number): { first: number[]; second: number[] } {
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < reducedDim; i++) {
    for (let j = i + 1; j < reducedDim; j++) {
      first.push(i);
      second.push(j);
    }
  }
  return { first, second };
}

// ---------------------------------------------------------------------------------------------
// Recognition from names and shapes
// ---------------------------------------------------------------------------------------------

/** The weight sizes of one block, as recognised (the window list comes from config.json). */
export interface LayerDims {
  /** r_l: rows of block l's W_red. */
  reducedDim: number;
  /** r_l(r_l-1)/2 */
  pairCount: number;
  /** f_l: rows of block l's first FFN weight. */
  ffDim: number;
}

export interface ShapeRecognition {
  ok: boolean;
  problems: string[];
  /** Global dimensions; reducedDim / pairCount / ffDim are block 0's. */
  dims: ModelDims | null;
  /** Each block's r, P, f (index = block). */
  layerDims: LayerDims[] | null;
  roles: { global: GlobalRoles; layers: LayerRoles[] } | null;
  /** `lm_head.weight` is present but not provably the same storage as the token embedding. */
  lmHeadNeedsValueCheck: boolean;
  unusedTensors: string[];
}

export const layerKey = (template: string, layer: number): string => template.replace('{l}', String(layer));
const wildcard = (template: string): string => template.replace('{l}', '*');
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The part of a per-block template before and including `{l}`, e.g. 'blocks.{l}.'. */
export function blockPrefix(description: Pick<ArchitectureDescription, 'tensors'>): string {
  const template = description.tensors.reduceWeight ?? 'blocks.{l}.';
  const at = template.indexOf('{l}') + 3;
  return template.slice(0, at) + (template[at] === '.' ? '.' : '');
}

/** Block indices named by the tensors under any per-block template of the description. */
function blockIndicesOf(names: Iterable<string>, description: ArchitectureDescription): Set<number> {
  const patterns = Object.entries(description.tensors)
    .filter(([, t]) => t !== undefined && t.includes('{l}'))
    .map(([, t]) => new RegExp('^' + escapeRegex(t!).replace(escapeRegex('{l}'), '(\\d+)') + '$'));
  const found = new Set<number>();
  for (const name of names) {
    for (const re of patterns) {
      const m = re.exec(name);
      if (m && m[1].length <= 6) found.add(Number(m[1]));
    }
  }
  return found;
}

/**
 * Matches tensor names and shapes against a description (default: the alphaXiv reproduction).
 * Synchronous, reads no values. V, d and Tmax are global; r and f are bound per block (a pruned
 * model's blocks differ) and each block's tensors are checked against its own. The messages name
 * the exact key and the exact mismatch, e.g. "no blocks.*.grassmann.W_red.weight",
 * "blocks.0.grassmann.W_plu.weight input 120 != r(r-1)/2 = 136" or
 * "blocks.2.ffn.3.weight input 200 != f = 180 (from blocks.2.ffn.0.weight output)".
 */
export function recognizeShapes(
  tensors: ReadonlyMap<string, Pick<TensorInfo, 'shape' | 'storage' | 'elementOffset' | 'strides'>>,
  description: ArchitectureDescription = ALPHAXIV,
): ShapeRecognition {
  const problems: string[] = [];
  /** Global dimensions (V, d, Tmax) and where each was bound, for messages. */
  const globalBound: Partial<Record<BaseSymbol, number>> = {};
  const globalFrom: Partial<Record<BaseSymbol, string>> = {};
  type Scope = { bound: Partial<Record<BaseSymbol, number>>; from: Partial<Record<BaseSymbol, string>> };
  /** The block being checked: its own r and f (null outside the blocks). */
  let block = null as Scope | null;
  const perBlock = (symbol: BaseSymbol): boolean => symbol === 'r' || symbol === 'f';
  const scope = (symbol: BaseSymbol): Scope => (perBlock(symbol) && block ? block : { bound: globalBound, from: globalFrom });
  const used = new Set<string>();
  const templates = description.tensors;
  const required = requiredRoles(description);

  // Number of blocks: the contiguous range 0..L-1 of block indices.
  const prefix = blockPrefix(description);
  const blockIndices = blockIndicesOf(tensors.keys(), description);
  let layers = 0;
  for (const l of blockIndices) layers = Math.max(layers, l + 1); // no spread: the count comes from the file
  for (let l = 0; l < layers; l++) {
    if (!blockIndices.has(l)) problems.push(`blocks are numbered 0..${layers - 1} but there is no ${layerKey(prefix, l)}*`);
  }
  if (layers === 0) problems.push(`no ${prefix}* tensors (expected at least one block)`);

  const expectedSize = (symbol: DimSymbol): { value: number; describe: string } | null => {
    if (symbol === 'P' || symbol === 'twoD') {
      const rule = DERIVED[symbol];
      const bound: Partial<Record<BaseSymbol, number>> = {};
      for (const s of rule.needs) bound[s] = scope(s).bound[s];
      if (rule.needs.some((s) => bound[s] === undefined)) return null;
      return { value: rule.value(bound), describe: `${rule.formula} = ${rule.value(bound)}` };
    }
    const { bound, from } = scope(symbol);
    const v = bound[symbol];
    return v === undefined ? null : { value: v, describe: `${symbol} = ${v} (from ${from[symbol]})` };
  };

  const check = (name: string, axes: AxisSpec[]): boolean => {
    const t = tensors.get(name);
    if (!t) return false;
    used.add(name);
    if (t.shape.length !== axes.length) {
      problems.push(`${name} has shape [${t.shape.join(',')}], expected ${axes.length} dimension(s) [${axes.map((a) => (a.symbol === 'twoD' ? '2d' : a.symbol)).join(',')}]`);
      return true;
    }
    axes.forEach((axis, k) => {
      const actual = t.shape[k];
      const expected = expectedSize(axis.symbol);
      if (expected === null) {
        if (axis.symbol !== 'P' && axis.symbol !== 'twoD') {
          const target = scope(axis.symbol);
          target.bound[axis.symbol] = actual;
          target.from[axis.symbol] = `${name} ${axis.label}`;
        }
      } else if (expected.value !== actual) {
        problems.push(`${name} ${axis.label} ${actual} != ${expected.describe}`);
      }
    });
    return true;
  };

  const global: Partial<GlobalRoles> = {};
  for (const role of GLOBAL_ROLES) {
    if (role === 'lmHead') continue;
    const key = templates[role];
    if (!key) continue;
    if (check(key, ROLE_SHAPES[role])) global[role] = key;
    else if ((required.global as readonly string[]).includes(role)) problems.push(`no ${key}`);
  }
  if (description.options.positions === 'none') global.positionEmbedding = null;

  // Each block binds its own r and f from the first of its tensors that carries them (W_red
  // before W_plu, the FFN's first weight before its second), so that a mismatch is reported
  // against the tensor that defines the block's dimension; d is global.
  const layerRoles: LayerRoles[] = [];
  const blockScopes: Scope[] = [];
  const missingEverywhere = new Map<string, number>();
  const usedRoles = LAYER_ROLES.filter((role) => templates[role] && (description.options.mixNorm || !role.startsWith('mixNorm')));
  for (let l = 0; l < layers; l++) {
    block = { bound: {}, from: {} };
    blockScopes.push(block);
    const roles: Record<string, string | null> = { mixNormWeight: null, mixNormBias: null, pairFirst: null, pairSecond: null };
    for (const role of usedRoles) {
      const key = layerKey(templates[role]!, l);
      if (check(key, ROLE_SHAPES[role])) roles[role] = key;
      else {
        if (OPTIONAL_BIAS_ROLES.includes(role)) roles[role] = null;
        missingEverywhere.set(templates[role]!, (missingEverywhere.get(templates[role]!) ?? 0) + 1);
      }
    }
    for (const role of OPTIONAL_BIAS_ROLES) if (!(role in roles)) roles[role] = null;
    const r = block.bound.r;
    if (r !== undefined && r < 2) problems.push(`reduced dimension r = ${r} (from ${block.from.r}) must be at least 2 to span a 2-plane`);

    // Optional pair-index buffers: only used to confirm the pair order (values: checkPairBuffers).
    for (const role of ['pairFirst', 'pairSecond'] as const) {
      const template = templates[role];
      if (!template) continue;
      const key = layerKey(template, l);
      const t = tensors.get(key);
      if (!t) continue;
      used.add(key);
      roles[role] = key;
      const pairs = expectedSize('P');
      if (t.shape.length !== 1 || (pairs && t.shape[0] !== pairs.value)) {
        problems.push(`${key} has shape [${t.shape.join(',')}], expected [${pairs ? pairs.describe : 'r(r-1)/2'}]`);
      }
    }
    layerRoles.push(roles as unknown as LayerRoles);
  }
  block = null;
  const optionalTemplates = new Set(OPTIONAL_BIAS_ROLES.map((role) => templates[role as LayerRole]).filter((t) => t !== undefined));
  for (const [template, count] of missingEverywhere) {
    // A bias left out of every block is a bias-free linear map (zeros); of some blocks, a problem.
    if (count === layers && optionalTemplates.has(template)) continue;
    if (count === layers) {
      problems.push(`no ${wildcard(template)}`);
    } else {
      const missing: number[] = [];
      for (let l = 0; l < layers; l++) if (!tensors.has(layerKey(template, l))) missing.push(l);
      problems.push(`${missing.map((l) => layerKey(template, l)).join(', ')} missing (present in other blocks)`);
    }
  }
  if (description.options.positions === 'none' && globalBound.Tmax === undefined) globalBound.Tmax = 0;

  // Output projection: absent (tied, Hugging Face style) or tied by storage, or a separate matrix.
  let lmHead: string | null = null;
  let lmHeadNeedsValueCheck = false;
  const headKey = templates.lmHead;
  const head = headKey ? tensors.get(headKey) : undefined;
  const embedding = templates.tokenEmbedding ? tensors.get(templates.tokenEmbedding) : undefined;
  if (head && headKey) {
    check(headKey, ROLE_SHAPES.lmHead);
    const sameView =
      embedding !== undefined &&
      head.storage.source === embedding.storage.source &&
      head.storage.key === embedding.storage.key &&
      head.storage.byteOffset === embedding.storage.byteOffset &&
      head.elementOffset === embedding.elementOffset &&
      head.strides.join(',') === embedding.strides.join(',');
    if (!sameView) {
      lmHead = headKey;
      lmHeadNeedsValueCheck = true;
    }
  }

  const unusedTensors = [...tensors.keys()].filter((n) => !used.has(n));
  const ok = problems.length === 0;
  const layerDims: LayerDims[] | null = ok
    ? blockScopes.map(({ bound }) => ({ reducedDim: bound.r!, pairCount: (bound.r! * (bound.r! - 1)) / 2, ffDim: bound.f! }))
    : null;
  return {
    ok,
    problems,
    dims: layerDims
      ? {
          vocabSize: globalBound.V!,
          modelDim: globalBound.d!,
          layers,
          reducedDim: layerDims[0].reducedDim,
          pairCount: layerDims[0].pairCount,
          ffDim: layerDims[0].ffDim,
          maxPositions: globalBound.Tmax!,
        }
      : null,
    layerDims,
    roles: ok ? { global: { ...(global as GlobalRoles), lmHead }, layers: layerRoles } : null,
    lmHeadNeedsValueCheck,
    unusedTensors,
  };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/**
 * Most elements (each) of an lm_head and a token embedding held in different storages whose
 * values the tied-head check compares (2^25: 128 MiB as float32). Larger pairs are taken as
 * untied, with a warning.
 */
export const TIED_VALUE_CHECK_MAX_ELEMENTS = 1 << 25;
/** Elements compared per read in the tied-head check (bounded memory whatever the layout). */
const TIED_VALUE_CHECK_CHUNK = 1 << 20;

/**
 * Whether two tensors in different storages hold the same values (NaN equal to NaN), read a
 * chunk of rows at a time, or why they were not compared: either one is larger than
 * TIED_VALUE_CHECK_MAX_ELEMENTS (an expanded, stride-0 view of a small storage included:
 * it would be compared element by element).
 */
async function sameTensorValues(a: TensorInfo, b: TensorInfo): Promise<boolean | { why: string }> {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const count = elementCount(a.shape);
  if (count > TIED_VALUE_CHECK_MAX_ELEMENTS) {
    return { why: `have ${count} elements each` };
  }
  if (count === 0) return true;
  if (a.shape.length === 0) return sameValues(await readFloat32(a), await readFloat32(b));
  const rows = a.shape[0];
  const rowElements = count / rows;
  const step = Math.max(1, Math.floor(TIED_VALUE_CHECK_CHUNK / rowElements));
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    if (!sameValues(await readFloat32(rowSlice(a, r, n)), await readFloat32(rowSlice(b, r, n)))) return false;
  }
  return true;
}

/** Reads the pair-index buffers (if any) and checks they hold each block's expected pair order. */
async function checkPairBuffers(
  tensors: ReadonlyMap<string, TensorInfo>,
  roles: readonly LayerRoles[],
  pairsPerLayer: readonly { first: number[]; second: number[] }[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const [l, pairs] of pairsPerLayer.entries()) {
    for (const [key, expected] of [[roles[l].pairFirst, pairs.first], [roles[l].pairSecond, pairs.second]] as const) {
      const t = key ? tensors.get(key) : undefined;
      if (!t) continue;
      const values = await readFloat32(t);
      const k = expected.findIndex((v, i) => values[i] !== v);
      if (k >= 0) {
        problems.push(`${t.name}[${k}] = ${values[k]}, expected ${expected[k]}: the pair order is not row-major (0,1),(0,2),...`);
      }
    }
  }
  return problems;
}

export interface DescribeOptions {
  /** An explicit config file (the CLI's --config); otherwise the implementation's own, found. */
  configPath?: string;
  /**
   * The description to follow (already read): then only it is tried. Otherwise the one
   * `archPath` names, or a grassmann-lens.arch.json found beside or above the checkpoint, or the
   * built-in descriptions, in order (./archFile.ts resolveArchitecture).
   */
  architecture?: ArchitectureDescription;
  /** An explicit description file (the CLI's --arch): only it is tried; problems throw InputError. */
  archPath?: string;
}

/** The required roles of a description whose key template names none of these tensors. */
export function missingRoles(tensors: ReadonlyMap<string, unknown>, description: ArchitectureDescription): { role: string; template: string }[] {
  const required = requiredRoles(description);
  const names = [...tensors.keys()];
  const out: { role: string; template: string }[] = [];
  for (const role of [...required.global, ...required.layer]) {
    const template = description.tensors[role];
    if (!template) {
      out.push({ role, template: '(no template)' });
      continue;
    }
    const re = new RegExp('^' + escapeRegex(template).replace(escapeRegex('{l}'), '\\d+') + '$');
    if (!names.some((n) => re.test(n))) out.push({ role, template });
  }
  return out;
}

/** The description that names the most of these tensors (then: the fewest problems). */
function closestFailure<T extends { shapes: ShapeRecognition }>(results: T[]): T {
  const matched = (r: ShapeRecognition): number => -r.unusedTensors.length;
  return results.reduce((best, r) =>
    matched(r.shapes) > matched(best.shapes) || (matched(r.shapes) === matched(best.shapes) && r.shapes.problems.length < best.shapes.problems.length) ? r : best);
}

/**
 * Recognises a Grassmann language model and resolves what the weights cannot tell.
 * Never throws for an unrecognised model (returns the problems of the closest description, the
 * roles it misses and how to describe the model); throws InputError only for an explicit config
 * or description file that is unreadable, invalid or contradicts the weights.
 */
export async function describeModel(checkpoint: Checkpoint, options: DescribeOptions = {}): Promise<SpecResult> {
  // An explicit description is the only one tried; a found file first, then the built-ins.
  const resolved = options.architecture
    ? { description: options.architecture, explicit: true, warnings: [] }
    : await resolveArchitecture(checkpoint.path, options.archPath);
  const own = resolved.description;
  const candidates = own ? (resolved.explicit ? [own] : [own, ...BUILT_IN_ARCHITECTURES]) : BUILT_IN_ARCHITECTURES;
  const attempts = candidates.map((description) => ({ description, shapes: recognizeShapes(checkpoint.tensors, description) }));
  const match = attempts.find((a) => a.shapes.ok);
  if (!match || !match.shapes.dims || !match.shapes.roles || !match.shapes.layerDims) {
    // A description file the user wrote is what they meant: its problems, not the closest built-in's.
    const closest = own ? attempts[0] : closestFailure(attempts);
    const hint = own
      ? `the description ${own.source} does not fit these tensors: correct it, or write a new one with 'grassmann-lens describe-arch' (VS Code: Describe Model Architecture…)`
      : `none of the built-in descriptions (${BUILT_IN_ARCHITECTURES.map((d) => d.label).join('; ')}) fits: closest is ${closest.description.label}. Describe your own with 'grassmann-lens describe-arch' (VS Code: Describe Model Architecture…)`;
    const missing = missingRoles(checkpoint.tensors, closest.description);
    const roles = missing.length === 0 ? [] : [`roles with no tensor under ${closest.description.label}'s names: ${missing.map((m) => `${m.role} (${m.template})`).join(', ')}`];
    return { recognized: false, architecture: 'unknown', problems: [...closest.shapes.problems, ...roles, hint], warnings: [...resolved.warnings], closest: closest.description.id };
  }
  const description = match.description;
  const shapes = match.shapes;
  const warnings: string[] = [...resolved.warnings];
  if (own && description !== own) {
    const problems = attempts[0].shapes.problems;
    warnings.push(`${own.source} does not fit these tensors (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; ...' : ''}): followed the built-in description ${description.label}`);
  }
  const roles = shapes.roles!;
  let tiedLmHead = roles.global.lmHead === null;
  if (shapes.lmHeadNeedsValueCheck && roles.global.lmHead) {
    // Different storage: tied only if the values are identical (e.g. a re-saved copy), which is
    // checked only within a bounded cost (sameTensorValues); past it, untied (same output).
    const headName = roles.global.lmHead;
    const embeddingName = roles.global.tokenEmbedding;
    const same = await sameTensorValues(checkpoint.tensors.get(headName)!, checkpoint.tensors.get(embeddingName)!);
    if (same === true) {
      tiedLmHead = true;
      roles.global.lmHead = null;
    } else if (same === false) {
      warnings.push(`${headName} differs from ${embeddingName}: using an untied output projection`);
    } else {
      warnings.push(`${headName} and ${embeddingName} are separate storages and ${same.why}, so their values were not compared (limit ${TIED_VALUE_CHECK_MAX_ELEMENTS} elements each): using an untied output projection, which computes the same outputs`);
    }
  }

  // Row-major pairs of each block's r (blocks with the same r share the arrays).
  const pairsByDim = new Map<number, { first: number[]; second: number[] }>();
  const layerPairs = shapes.layerDims!.map(({ reducedDim: r }) => {
    let pairs = pairsByDim.get(r);
    if (!pairs) pairsByDim.set(r, (pairs = rowMajorPairs(r)));
    return pairs;
  });
  const pairs = layerPairs[0];
  const pairProblems = await checkPairBuffers(checkpoint.tensors, roles.layers, layerPairs);
  if (pairProblems.length > 0) {
    return { recognized: false, architecture: 'unknown', problems: pairProblems, warnings, closest: description.id };
  }

  const layerDims = shapes.layerDims!;
  const config: ResolvedConfig = await resolveModelConfig(checkpoint, shapes.dims!, options.configPath, layerDims, description, tiedLmHead);
  warnings.push(...config.warnings);
  if (shapes.unusedTensors.length > 0) {
    warnings.push(`tensors not used by ${description.label}: ${shapes.unusedTensors.join(', ')}`);
  }
  const dims = { ...shapes.dims!, maxPositions: shapes.dims!.maxPositions || config.maxPositions };

  return {
    recognized: true,
    spec: {
      architecture: 'GrassmannGPT',
      implementation: { id: description.id, label: description.label, source: description.source },
      description,
      variant: { ...config.options, tiedLmHead },
      dims,
      windowSizes: config.windowSizes,
      windowSource: config.windowSource,
      windowNote: config.windowNote,
      assumed: config.assumed,
      layerNormEps: config.options.layerNormEps,
      configPath: config.configPath,
      configObject: config.configObject,
      pairFirst: pairs.first,
      pairSecond: pairs.second,
      roles,
      layerShapes: layerDims.map((dims, l) => ({
        reducedDim: dims.reducedDim,
        pairCount: dims.pairCount,
        ffDim: dims.ffDim,
        windowSizes: [...config.layerWindowSizes[l]],
        pairFirst: layerPairs[l].first,
        pairSecond: layerPairs[l].second,
      })),
      unusedTensors: shapes.unusedTensors,
      warnings,
    },
  };
}

/**
 * True when every block has the same r, f and window list (a trained checkpoint); false for a
 * structurally pruned model, whose reports then show the sizes per block.
 */
export function uniformLayerShapes(shapes: readonly Pick<LayerShape, 'reducedDim' | 'ffDim' | 'windowSizes'>[]): boolean {
  if (shapes.length === 0) return true;
  const [first] = shapes;
  const windows = first.windowSizes.join(',');
  return shapes.every((s) => s.reducedDim === first.reducedDim && s.ffDim === first.ffDim && s.windowSizes.join(',') === windows);
}
