/**
 * Which units a pruning rate removes, and the state dict without them.
 *
 * structural: the tensors shrink (FFN: ffn.0 rows and bias entries, ffn.3 columns; reduced
 *   dimension i: W_red row and bias entry i, and the W_plu columns of every pair containing i,
 *   the others kept in row-major order; window offsets: only the layer's window list changes).
 * mask: shapes are kept and the units zeroed (FFN: ffn.0 row + bias entry and ffn.3 column, so
 *   GELU(0) = 0 feeds nothing; reduced dimension i: W_red row + bias entry, which zeroes z_i and
 *   with it every Plücker coordinate containing i, and those W_plu columns). Both give the same
 *   function: the pairs without i keep their values and the norm of p is unchanged.
 *   A window offset has no weights, so mask mode cannot express its removal.
 */
import type { TensorToWrite } from '../checkpoint/safetensorsWriter';
import { rowMajorPairs, type GrassmannSpec, type LayerShape } from '../model/spec';
import type { PruneMode, PruneScope, PruneUnitKind, ScoredUnit } from '../relevance/types';

/** Fewest units a layer keeps: one FFN neuron, a 2-plane's two reduced dimensions, no offset. */
export const MINIMUM_PER_LAYER: Readonly<Record<PruneUnitKind, number>> = { ffn: 1, reduced: 2, windows: 0 };

/**
 * The lowest-scored units at `rate` (a fraction of all units, globally or of each layer), never
 * taking a layer below its minimum. Ties go to the lower layer, then the lower index.
 */
export function selectUnits(
  units: readonly (readonly number[])[],
  scores: readonly Float64Array[],
  rate: number,
  scope: PruneScope,
  kind: PruneUnitKind,
): ScoredUnit[] {
  const minimum = MINIMUM_PER_LAYER[kind];
  const all: ScoredUnit[] = [];
  units.forEach((list, layer) => list.forEach((index, k) => all.push({ layer, index, score: scores[layer][k] })));
  const order = (a: ScoredUnit, b: ScoredUnit): number => a.score - b.score || a.layer - b.layer || a.index - b.index;
  const removed: ScoredUnit[] = [];
  if (scope === 'global') {
    const target = Math.round(rate * all.length);
    const left = units.map((u) => u.length);
    for (const unit of [...all].sort(order)) {
      if (removed.length >= target) break;
      if (left[unit.layer] <= minimum) continue;
      left[unit.layer]--;
      removed.push(unit);
    }
  } else {
    units.forEach((list, layer) => {
      const own = all.filter((u) => u.layer === layer).sort(order);
      const count = Math.min(Math.round(rate * list.length), Math.max(0, list.length - minimum));
      removed.push(...own.slice(0, count));
    });
  }
  return removed.sort((a, b) => a.layer - b.layer || a.index - b.index);
}

export interface PrunedModel {
  /** Tensors in the original order (structural: smaller; mask: same shapes). */
  tensors: TensorToWrite[];
  layerShapes: LayerShape[];
}

const f32 = (t: TensorToWrite): Float32Array => {
  if (!(t.data instanceof Float32Array)) throw new Error(`${t.name}: expected float32 data`);
  return t.data;
};

export function pruneStateDict(
  spec: GrassmannSpec,
  state: readonly TensorToWrite[],
  kind: PruneUnitKind,
  removed: readonly { layer: number; index: number }[],
  mode: PruneMode,
): PrunedModel {
  if (kind === 'windows' && mode === 'mask') {
    throw new RangeError('window offsets have no weights, so mask mode cannot remove them while keeping the original code: use --mode structural');
  }
  const byName = new Map(state.map((t) => [t.name, t]));
  const replaced = new Map<string, TensorToWrite>();
  const d = spec.dims.modelDim;
  const layerShapes = spec.layerShapes.map((s) => ({ ...s, windowSizes: [...s.windowSizes] }));
  spec.layerShapes.forEach((shape, l) => {
    const gone = new Set(removed.filter((u) => u.layer === l).map((u) => u.index));
    if (gone.size === 0) return;
    const roles = spec.roles.layers[l];
    const get = (name: string): TensorToWrite => {
      const t = byName.get(name);
      if (!t) throw new Error(`the state dict has no ${name}`);
      return t;
    };
    /** A bias the implementation left out (null): zeros here, and never written. */
    const getBias = (name: string | null, length: number): TensorToWrite => (name ? get(name) : { name: '', dtype: 'F32', shape: [length], data: new Float32Array(length) });
    const put = (name: string | null, shapeOut: number[], data: Float32Array): void => {
      if (name) replaced.set(name, { name, dtype: 'F32', shape: shapeOut, data });
    };
    if (kind === 'windows') {
      layerShapes[l].windowSizes = shape.windowSizes.filter((w) => !gone.has(w));
      return;
    }
    if (kind === 'ffn') {
      const f = shape.ffDim;
      const keep = Array.from({ length: f }, (_, k) => k).filter((k) => !gone.has(k));
      const w0 = f32(get(roles.ffnInWeight));
      const b0 = f32(getBias(roles.ffnInBias, shape.ffDim));
      const w3 = f32(get(roles.ffnOutWeight));
      if (mode === 'mask') {
        const m0 = Float32Array.from(w0);
        const mb = Float32Array.from(b0);
        const m3 = Float32Array.from(w3);
        for (const k of gone) {
          m0.fill(0, k * d, (k + 1) * d);
          mb[k] = 0;
          for (let i = 0; i < d; i++) m3[i * f + k] = 0;
        }
        put(roles.ffnInWeight, [f, d], m0);
        put(roles.ffnInBias, [f], mb);
        put(roles.ffnOutWeight, [d, f], m3);
      } else {
        const n = keep.length;
        const s0 = new Float32Array(n * d);
        const sb = new Float32Array(n);
        const s3 = new Float32Array(d * n);
        keep.forEach((k, j) => {
          s0.set(w0.subarray(k * d, (k + 1) * d), j * d);
          sb[j] = b0[k];
          for (let i = 0; i < d; i++) s3[i * n + j] = w3[i * f + k];
        });
        put(roles.ffnInWeight, [n, d], s0);
        put(roles.ffnInBias, [n], sb);
        put(roles.ffnOutWeight, [d, n], s3);
        layerShapes[l].ffDim = n;
      }
      return;
    }
    // Reduced dimensions.
    const r = shape.reducedDim;
    const P = shape.pairCount;
    const red = f32(get(roles.reduceWeight));
    const redBias = f32(getBias(roles.reduceBias, shape.reducedDim));
    const plu = f32(get(roles.pluckerWeight));
    const pairGone = (q: number): boolean => gone.has(shape.pairFirst[q]) || gone.has(shape.pairSecond[q]);
    if (mode === 'mask') {
      const mr = Float32Array.from(red);
      const mb = Float32Array.from(redBias);
      const mp = Float32Array.from(plu);
      for (const i of gone) {
        mr.fill(0, i * d, (i + 1) * d);
        mb[i] = 0;
      }
      for (let q = 0; q < P; q++) if (pairGone(q)) for (let o = 0; o < d; o++) mp[o * P + q] = 0;
      put(roles.reduceWeight, [r, d], mr);
      put(roles.reduceBias, [r], mb);
      put(roles.pluckerWeight, [d, P], mp);
      return;
    }
    const keepDims = Array.from({ length: r }, (_, i) => i).filter((i) => !gone.has(i));
    const keepPairs = Array.from({ length: P }, (_, q) => q).filter((q) => !pairGone(q));
    const r2 = keepDims.length;
    const P2 = keepPairs.length;
    const sr = new Float32Array(r2 * d);
    const sb = new Float32Array(r2);
    keepDims.forEach((i, j) => {
      sr.set(red.subarray(i * d, (i + 1) * d), j * d);
      sb[j] = redBias[i];
    });
    // Kept pairs (i, j) of the old order map to the row-major pairs of the kept dimensions in
    // the same order, because keeping a subset preserves the order of i, then j.
    const sp = new Float32Array(d * P2);
    for (let o = 0; o < d; o++) keepPairs.forEach((q, k) => (sp[o * P2 + k] = plu[o * P + q]));
    put(roles.reduceWeight, [r2, d], sr);
    put(roles.reduceBias, [r2], sb);
    put(roles.pluckerWeight, [d, P2], sp);
    const pairs = rowMajorPairs(r2);
    layerShapes[l] = { ...layerShapes[l], reducedDim: r2, pairCount: P2, pairFirst: pairs.first, pairSecond: pairs.second };
    // Pair-index buffers (present in .pt state dicts) follow the new pair list.
    for (const [name, values] of [[roles.pairFirst, pairs.first], [roles.pairSecond, pairs.second]] as const) {
      if (!name) continue;
      const old = byName.get(name);
      if (old) replaced.set(name, { name, dtype: 'I64', shape: [P2], data: BigInt64Array.from(values.map(BigInt)) });
    }
  });
  return { tensors: state.map((t) => replaced.get(t.name) ?? t), layerShapes };
}
