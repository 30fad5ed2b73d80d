/**
 * The GrassmannGPT architecture as data.
 *
 * A checkpoint is recognised by matching its tensor names and shapes against a layout table
 * (`GRASSMANN_GPT_LAYOUT`): every entry names a role, a key template and a symbolic shape. The
 * global dimensions (V, d, Tmax) are bound from the first tensor that carries them and every other
 * tensor is checked against them; the block dimensions (r, f) are bound per block, from that
 * block's first tensor that carries them (W_red rows, ffn.0 rows), and that block's other tensors
 * are checked against its own values, plus two derived sizes: the Plücker pair count
 * P_l = r_l(r_l-1)/2 (input of W_plu) and the gate input 2d (W_gate acts on [h ; g]).
 * A trained checkpoint has the same r and f in every block; a structurally pruned one
 * (../pruning) has its own per block: `GrassmannSpec.layerShapes[l]` holds each block's sizes and
 * window list, and `dims.reducedDim / pairCount / ffDim` are block 0's (`uniformLayerShapes`
 * says whether every block has them).
 *
 * What the weights cannot tell (window offsets, pairing direction, gating form, LayerNorm eps)
 * comes from config.json or from the paper's defaults (./config.ts). The runtime (./grassmann.ts)
 * reads only the resulting `GrassmannSpec`, so a variant (pairing z_t with z_{t+d}, additive
 * gating) is a different spec value, not a different code path to maintain.
 *
 * An unrecognised checkpoint is not an error: `describeModel` returns `{ recognized: false,
 * problems }`, each problem naming exactly what is missing or mismatched, and the checkpoint stays
 * open for tensor inspection.
 */
import { readFloat32 } from '../checkpoint/tensorData';
import type { Checkpoint, TensorInfo } from '../checkpoint/types';
import { resolveModelConfig, type ResolvedConfig } from './config';

/** Which earlier (or later) state z_t is paired with at offset d. */
export type PairingRule =
  /** span(z_t, z_{t-d}), causal; valid at positions t >= d (the paper). */
  | 'previous'
  /** span(z_t, z_{t+d}), looks ahead; valid at positions t < T - d. */
  | 'next';

/** How the gate alpha combines the block input h and the Grassmann features g. */
export type GatingRule =
  /** out = LayerNorm(alpha * h + (1 - alpha) * g) (the paper). */
  | 'blend'
  /** out = LayerNorm(h + alpha * g). */
  | 'additive';

export interface ModelDims {
  /** V: rows of token_embedding.weight. */
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
  /** f: feed-forward width (rows of ffn.0), block 0's (see reducedDim). */
  ffDim: number;
  /** Tmax: rows of position_embedding.weight, the longest sequence the model can read. */
  maxPositions: number;
}

/** Roles of the tensors outside the blocks. */
export interface GlobalRoles {
  tokenEmbedding: string;
  positionEmbedding: string;
  finalNormWeight: string;
  finalNormBias: string;
  /** Key of an untied output projection, or null when it is the token embedding (tied). */
  lmHead: string | null;
}

/** Roles of the tensors of one block (state-dict keys). */
export interface LayerRoles {
  norm1Weight: string;
  norm1Bias: string;
  reduceWeight: string;
  reduceBias: string;
  pluckerWeight: string;
  pluckerBias: string;
  gateWeight: string;
  gateBias: string;
  mixNormWeight: string;
  mixNormBias: string;
  norm2Weight: string;
  norm2Bias: string;
  ffnInWeight: string;
  ffnInBias: string;
  ffnOutWeight: string;
  ffnOutBias: string;
}

export interface GrassmannVariant {
  pairing: PairingRule;
  gating: GatingRule;
  /** Feed-forward activation; the reference uses the exact (erf) GELU. */
  activation: 'gelu';
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
  /** f_l: rows of this block's ffn.0. */
  ffDim: number;
  /** This block's window offsets (duplicates count twice in the mean). */
  windowSizes: number[];
  /** Row-major pairs of r_l. */
  pairFirst: number[];
  pairSecond: number[];
}

export interface GrassmannSpec {
  architecture: 'GrassmannGPT';
  variant: GrassmannVariant;
  dims: ModelDims;
  /**
   * The model's window list: config.json's `window_sizes` or the paper default, which every block
   * applies unless config.json's `layers` gives a block its own (then layerShapes[l].windowSizes;
   * when every block has its own and there is no global list, block 0's). Duplicates count twice
   * in the mean. Per-block code reads layerShapes[l].windowSizes.
   */
  windowSizes: number[];
  windowSource: 'config' | 'assumed';
  /** Why these windows (config file, or which default rule). */
  windowNote: string;
  layerNormEps: number;
  /** config.json the windows / eps came from, or null. */
  configPath: string | null;
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
  | { recognized: false; architecture: 'unknown'; problems: string[]; warnings: string[] };

// ---------------------------------------------------------------------------------------------
// The layout table
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

interface LayoutEntry<Role extends string> {
  role: Role;
  /** State-dict key; `{l}` stands for the block index. */
  key: string;
  shape: AxisSpec[];
}

export interface ArchitectureLayout {
  architecture: 'GrassmannGPT';
  globals: LayoutEntry<Exclude<keyof GlobalRoles, 'lmHead'>>[];
  perLayer: LayoutEntry<keyof LayerRoles>[];
  /** Optional output projection: absent, or tied to `tiedTo`. */
  lmHead: { key: string; tiedTo: string; shape: AxisSpec[] };
  /** Optional integer buffers holding the pair order (present in .pt state dicts). */
  pairIndexBuffers: { first: string; second: string };
}

const out = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'output' });
const inp = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'input' });
const vec = (symbol: DimSymbol): AxisSpec => ({ symbol, label: 'length' });

/** The reference PyTorch reproduction's state-dict layout (verified against the fixture). */
export const GRASSMANN_GPT_LAYOUT: ArchitectureLayout = {
  architecture: 'GrassmannGPT',
  globals: [
    { role: 'tokenEmbedding', key: 'token_embedding.weight', shape: [{ symbol: 'V', label: 'rows' }, { symbol: 'd', label: 'columns' }] },
    { role: 'positionEmbedding', key: 'position_embedding.weight', shape: [{ symbol: 'Tmax', label: 'rows' }, { symbol: 'd', label: 'columns' }] },
    { role: 'finalNormWeight', key: 'ln_f.weight', shape: [vec('d')] },
    { role: 'finalNormBias', key: 'ln_f.bias', shape: [vec('d')] },
  ],
  perLayer: [
    { role: 'norm1Weight', key: 'blocks.{l}.ln1.weight', shape: [vec('d')] },
    { role: 'norm1Bias', key: 'blocks.{l}.ln1.bias', shape: [vec('d')] },
    { role: 'reduceWeight', key: 'blocks.{l}.grassmann.W_red.weight', shape: [out('r'), inp('d')] },
    { role: 'reduceBias', key: 'blocks.{l}.grassmann.W_red.bias', shape: [vec('r')] },
    { role: 'pluckerWeight', key: 'blocks.{l}.grassmann.W_plu.weight', shape: [out('d'), inp('P')] },
    { role: 'pluckerBias', key: 'blocks.{l}.grassmann.W_plu.bias', shape: [vec('d')] },
    { role: 'gateWeight', key: 'blocks.{l}.grassmann.W_gate.weight', shape: [out('d'), inp('twoD')] },
    { role: 'gateBias', key: 'blocks.{l}.grassmann.W_gate.bias', shape: [vec('d')] },
    { role: 'mixNormWeight', key: 'blocks.{l}.grassmann.layer_norm.weight', shape: [vec('d')] },
    { role: 'mixNormBias', key: 'blocks.{l}.grassmann.layer_norm.bias', shape: [vec('d')] },
    { role: 'norm2Weight', key: 'blocks.{l}.ln2.weight', shape: [vec('d')] },
    { role: 'norm2Bias', key: 'blocks.{l}.ln2.bias', shape: [vec('d')] },
    { role: 'ffnInWeight', key: 'blocks.{l}.ffn.0.weight', shape: [out('f'), inp('d')] },
    { role: 'ffnInBias', key: 'blocks.{l}.ffn.0.bias', shape: [vec('f')] },
    { role: 'ffnOutWeight', key: 'blocks.{l}.ffn.3.weight', shape: [out('d'), inp('f')] },
    { role: 'ffnOutBias', key: 'blocks.{l}.ffn.3.bias', shape: [vec('d')] },
  ],
  lmHead: { key: 'lm_head.weight', tiedTo: 'token_embedding.weight', shape: [{ symbol: 'V', label: 'rows' }, { symbol: 'd', label: 'columns' }] },
  pairIndexBuffers: { first: 'blocks.{l}.grassmann.plucker.idx_i', second: 'blocks.{l}.grassmann.plucker.idx_j' },
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
  /** r_l: rows of blocks.l.grassmann.W_red.weight. */
  reducedDim: number;
  /** r_l(r_l-1)/2 */
  pairCount: number;
  /** f_l: rows of blocks.l.ffn.0.weight. */
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

const layerKey = (template: string, layer: number): string => template.replace('{l}', String(layer));
const wildcard = (template: string): string => template.replace('{l}', '*');

/**
 * Matches tensor names and shapes against the layout. Synchronous, reads no values.
 * V, d and Tmax are global; r and f are bound per block (a pruned model's blocks differ) and each
 * block's tensors are checked against its own. The messages name the exact key and the exact
 * mismatch, e.g. "no blocks.*.grassmann.W_red.weight",
 * "blocks.0.grassmann.W_plu.weight input 120 != r(r-1)/2 = 136" or
 * "blocks.2.ffn.3.weight input 200 != f = 180 (from blocks.2.ffn.0.weight output)".
 */
export function recognizeShapes(
  tensors: ReadonlyMap<string, Pick<TensorInfo, 'shape' | 'storage' | 'elementOffset' | 'strides'>>,
  layout: ArchitectureLayout = GRASSMANN_GPT_LAYOUT,
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

  // Number of blocks: the contiguous range 0..L-1 of `blocks.{l}.` prefixes.
  const blockIndices = new Set<number>();
  for (const name of tensors.keys()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) blockIndices.add(Number(m[1]));
  }
  const layers = blockIndices.size === 0 ? 0 : Math.max(...blockIndices) + 1;
  for (let l = 0; l < layers; l++) {
    if (!blockIndices.has(l)) problems.push(`blocks are numbered 0..${layers - 1} but there is no blocks.${l}.*`);
  }
  if (layers === 0) problems.push('no blocks.{l}.* tensors (expected at least one block)');

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

  const global = {} as GlobalRoles;
  for (const entry of layout.globals) {
    if (check(entry.key, entry.shape)) global[entry.role] = entry.key;
    else problems.push(`no ${entry.key}`);
  }

  // Each block binds its own r and f from the first of its tensors that carries them (the layout
  // lists W_red before W_plu and ffn.0 before ffn.3), so that a mismatch is reported against the
  // tensor that defines the block's dimension; d is global.
  const layerRoles: LayerRoles[] = [];
  const blockScopes: Scope[] = [];
  const missingEverywhere = new Map<string, number>();
  for (let l = 0; l < layers; l++) {
    block = { bound: {}, from: {} };
    blockScopes.push(block);
    const roles = {} as LayerRoles;
    for (const entry of layout.perLayer) {
      const key = layerKey(entry.key, l);
      if (check(key, entry.shape)) roles[entry.role] = key;
      else missingEverywhere.set(entry.key, (missingEverywhere.get(entry.key) ?? 0) + 1);
    }
    layerRoles.push(roles);
    const r = block.bound.r;
    if (r !== undefined && r < 2) problems.push(`reduced dimension r = ${r} (from ${block.from.r}) must be at least 2 to span a 2-plane`);

    // Optional pair-index buffers: only used to confirm the pair order (values: checkPairBuffers).
    for (const template of [layout.pairIndexBuffers.first, layout.pairIndexBuffers.second]) {
      const key = layerKey(template, l);
      const t = tensors.get(key);
      if (!t) continue;
      used.add(key);
      const pairs = expectedSize('P');
      if (t.shape.length !== 1 || (pairs && t.shape[0] !== pairs.value)) {
        problems.push(`${key} has shape [${t.shape.join(',')}], expected [${pairs ? pairs.describe : 'r(r-1)/2'}]`);
      }
    }
  }
  block = null;
  for (const [template, count] of missingEverywhere) {
    if (count === layers) {
      problems.push(`no ${wildcard(template)}`);
    } else {
      const missing: number[] = [];
      for (let l = 0; l < layers; l++) if (!tensors.has(layerKey(template, l))) missing.push(l);
      problems.push(`${missing.map((l) => layerKey(template, l)).join(', ')} missing (present in other blocks)`);
    }
  }

  // Output projection: absent (tied, Hugging Face style) or tied by storage, or a separate matrix.
  let lmHead: string | null = null;
  let lmHeadNeedsValueCheck = false;
  const head = tensors.get(layout.lmHead.key);
  const embedding = tensors.get(layout.lmHead.tiedTo);
  if (head) {
    check(layout.lmHead.key, layout.lmHead.shape);
    const sameView =
      embedding !== undefined &&
      head.storage.source === embedding.storage.source &&
      head.storage.key === embedding.storage.key &&
      head.storage.byteOffset === embedding.storage.byteOffset &&
      head.elementOffset === embedding.elementOffset &&
      head.strides.join(',') === embedding.strides.join(',');
    if (!sameView) {
      lmHead = layout.lmHead.key;
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
    roles: ok ? { global: { ...global, lmHead }, layers: layerRoles } : null,
    lmHeadNeedsValueCheck,
    unusedTensors,
  };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Reads the pair-index buffers (if any) and checks they hold each block's expected pair order. */
async function checkPairBuffers(
  tensors: ReadonlyMap<string, TensorInfo>,
  pairsPerLayer: readonly { first: number[]; second: number[] }[],
  layout: ArchitectureLayout,
): Promise<string[]> {
  const problems: string[] = [];
  for (const [l, pairs] of pairsPerLayer.entries()) {
    for (const [template, expected] of [[layout.pairIndexBuffers.first, pairs.first], [layout.pairIndexBuffers.second, pairs.second]] as const) {
      const t = tensors.get(layerKey(template, l));
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
  /** An explicit config.json (the CLI's --config); otherwise one beside or above the checkpoint. */
  configPath?: string;
}

/**
 * Recognises a GrassmannGPT checkpoint and resolves what the weights cannot tell.
 * Never throws for an unrecognised model (returns the problems); throws InputError only for an
 * explicit config file that is unreadable or contradicts the weights.
 */
export async function describeModel(checkpoint: Checkpoint, options: DescribeOptions = {}): Promise<SpecResult> {
  const layout = GRASSMANN_GPT_LAYOUT;
  const shapes = recognizeShapes(checkpoint.tensors, layout);
  if (!shapes.ok || !shapes.dims || !shapes.roles || !shapes.layerDims) {
    return { recognized: false, architecture: 'unknown', problems: shapes.problems, warnings: [] };
  }
  const warnings: string[] = [];
  const roles = shapes.roles;
  let tiedLmHead = roles.global.lmHead === null;
  if (shapes.lmHeadNeedsValueCheck && roles.global.lmHead) {
    // Different storage: tied only if the values are identical (e.g. a re-saved copy).
    const head = await readFloat32(checkpoint.tensors.get(roles.global.lmHead)!);
    const embedding = await readFloat32(checkpoint.tensors.get(roles.global.tokenEmbedding)!);
    if (sameValues(head, embedding)) {
      tiedLmHead = true;
      roles.global.lmHead = null;
    } else {
      warnings.push(`${layout.lmHead.key} differs from ${layout.lmHead.tiedTo}: using an untied output projection`);
    }
  }

  // Row-major pairs of each block's r (blocks with the same r share the arrays).
  const pairsByDim = new Map<number, { first: number[]; second: number[] }>();
  const layerPairs = shapes.layerDims.map(({ reducedDim: r }) => {
    let pairs = pairsByDim.get(r);
    if (!pairs) pairsByDim.set(r, (pairs = rowMajorPairs(r)));
    return pairs;
  });
  const pairs = layerPairs[0];
  const pairProblems = await checkPairBuffers(checkpoint.tensors, layerPairs, layout);
  if (pairProblems.length > 0) {
    return { recognized: false, architecture: 'unknown', problems: pairProblems, warnings };
  }

  const layerDims = shapes.layerDims;
  const config: ResolvedConfig = await resolveModelConfig(checkpoint.path, shapes.dims, options.configPath, layerDims);
  warnings.push(...config.warnings);
  if (shapes.unusedTensors.length > 0) {
    warnings.push(`tensors not used by GrassmannGPT: ${shapes.unusedTensors.join(', ')}`);
  }

  return {
    recognized: true,
    spec: {
      architecture: 'GrassmannGPT',
      variant: { pairing: config.pairing, gating: config.gating, activation: 'gelu', tiedLmHead },
      dims: shapes.dims,
      windowSizes: config.windowSizes,
      windowSource: config.windowSource,
      windowNote: config.windowNote,
      layerNormEps: config.layerNormEps,
      configPath: config.configPath,
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
