/**
 * Scores of prunable units (grassmann-math.md §5): LRP relevance and the baselines.
 *
 * Units: FFN neurons (row of ffn.0 + column of ffn.3), reduced dimensions of z (row of W_red +
 * the W_plu columns of the pairs that contain it), window offsets (per layer; index = the offset).
 * Every criterion sums over the reference samples (chunks of the reference text); per sample:
 *   lrp           |sum over positions of the unit's relevance| (LRP from the true next-token
 *                 logits, the run's rules): a unit with large negative relevance matters as much
 *                 as one with large positive relevance, so both are kept (the default)
 *   lrp-signed    sum over positions of the unit's signed relevance (Yeom et al. under z+, where
 *                 relevance is non-negative; with signed rules, negative units are removed first)
 *   taylor        |sum over positions of a dC/da|, C the next-token cross-entropy summed over the
 *                 sample's predictions (Molchanov et al.: the first-order change of the loss
 *                 when the unit is removed; a = 1 for a window offset's mask)
 *   taylor-logit  the same with C replaced by the sum of the true next-token logits (the LRP start)
 *   gradient      sum over positions of |dL/da|, L the sum of the true next-token logits
 *   magnitude     L2 norm of the unit's weights (FFN: ffn.0 row and ffn.3 column; reduced dimension:
 *                 W_red row and its pairs' W_plu columns)
 *   wina          sum over positions of |a| times the L2 norm of the weights that read a
 *                 (FFN: the ffn.3 column; reduced dimension: its pairs' W_plu columns)
 *   random        uniform, seeded
 * A window offset has no weights of its own, so magnitude and wina do not apply to it.
 * Scores are then normalised per layer (divided by the layer's sum of |score|), so that layers
 * compete on one scale when ranked globally (Yeom et al.); the lowest normalised scores go first.
 */
import type { GrassmannModel } from '../model/grassmann';
import type { GrassmannSpec } from '../model/spec';
import { seededRandom } from '../model/synthetic';
import { throwIfCancelled, type Cancellation } from '../core/cancellation';
import { relevanceOf } from '../relevance/lrp';
import { targetGradients } from '../relevance/gradients';
import type { PruneCriterion, PruneUnitKind, RelevanceOptions } from '../relevance/types';
import { criterionApplies } from './choices';
export { criterionApplies };

/** Weights the static criteria read, by state-dict key (float32, row-major). */
export type WeightLookup = (name: string) => Float32Array;

/** The units of each layer: FFN neurons 0..f_l-1, reduced dimensions 0..r_l-1, or the layer's distinct offsets. */
export function unitsOfLayer(spec: GrassmannSpec, layer: number, kind: PruneUnitKind): number[] {
  const shape = spec.layerShapes[layer];
  if (kind === 'ffn') return Array.from({ length: shape.ffDim }, (_, i) => i);
  if (kind === 'reduced') return Array.from({ length: shape.reducedDim }, (_, i) => i);
  return [...new Set(shape.windowSizes)].sort((a, b) => a - b);
}

/** Sum of squares of W_plu columns per reduced dimension (the pairs containing it). */
function pluckerColumnSquares(spec: GrassmannSpec, layer: number, plucker: Float32Array): Float64Array {
  const shape = spec.layerShapes[layer];
  const d = spec.dims.modelDim;
  const P = shape.pairCount;
  const perDim = new Float64Array(shape.reducedDim);
  for (let q = 0; q < P; q++) {
    let sq = 0;
    for (let o = 0; o < d; o++) sq += plucker[o * P + q] ** 2;
    perDim[shape.pairFirst[q]] += sq;
    perDim[shape.pairSecond[q]] += sq;
  }
  return perDim;
}

/** The magnitude criterion: L2 norm of each unit's weights. */
function magnitudeScores(spec: GrassmannSpec, kind: PruneUnitKind, weight: WeightLookup): Float64Array[] {
  const d = spec.dims.modelDim;
  return spec.layerShapes.map((shape, l) => {
    const roles = spec.roles.layers[l];
    if (kind === 'ffn') {
      const f = shape.ffDim;
      const w0 = weight(roles.ffnInWeight); // [f, d]
      const w3 = weight(roles.ffnOutWeight); // [d, f]
      const out = new Float64Array(f);
      for (let k = 0; k < f; k++) {
        let sq = 0;
        for (let i = 0; i < d; i++) sq += w0[k * d + i] ** 2 + w3[i * f + k] ** 2;
        out[k] = Math.sqrt(sq);
      }
      return out;
    }
    const r = shape.reducedDim;
    const red = weight(roles.reduceWeight); // [r, d]
    const plu = pluckerColumnSquares(spec, l, weight(roles.pluckerWeight));
    const out = new Float64Array(r);
    for (let i = 0; i < r; i++) {
      let sq = plu[i];
      for (let j = 0; j < d; j++) sq += red[i * d + j] ** 2;
      out[i] = Math.sqrt(sq);
    }
    return out;
  });
}

export interface ScoreOptions {
  relevance: RelevanceOptions;
  seed: number;
  cancellation?: Cancellation;
  /** Called after each reference sample. */
  onSample?: (done: number, total: number) => void;
}

/** Raw (unnormalised) scores per layer, in the order of unitsOfLayer (LRP and gradients read their tensors asynchronously). */
export async function scoreUnits(
  model: GrassmannModel,
  samples: readonly (readonly number[])[],
  criterion: PruneCriterion,
  kind: PruneUnitKind,
  weight: WeightLookup,
  options: ScoreOptions,
): Promise<Float64Array[]> {
  const spec = model.spec;
  const problem = criterionApplies(criterion, kind);
  if (problem) throw new RangeError(problem);
  const units = spec.layerShapes.map((_, l) => unitsOfLayer(spec, l, kind));
  if (criterion === 'random') {
    const rand = seededRandom(options.seed);
    return units.map((u) => Float64Array.from(u, () => rand()));
  }
  if (criterion === 'magnitude') return magnitudeScores(spec, kind, weight);

  const totals = units.map((u) => new Float64Array(u.length));
  const columnNorms = criterion === 'wina'
    ? spec.layerShapes.map((shape, l) => {
        const roles = spec.roles.layers[l];
        if (kind === 'ffn') {
          const f = shape.ffDim;
          const d = spec.dims.modelDim;
          const w3 = weight(roles.ffnOutWeight);
          return Float64Array.from({ length: f }, (_, k) => {
            let sq = 0;
            for (let i = 0; i < d; i++) sq += w3[i * f + k] ** 2;
            return Math.sqrt(sq);
          });
        }
        return pluckerColumnSquares(spec, l, weight(roles.pluckerWeight)).map(Math.sqrt);
      })
    : null;

  for (const [sampleIndex, ids] of samples.entries()) {
    throwIfCancelled(options.cancellation);
    if (criterion === 'lrp' || criterion === 'lrp-signed') {
      const result = await relevanceOf(model, ids, { kind: 'next-token' }, options.relevance);
      const value = criterion === 'lrp' ? Math.abs : (v: number): number => v;
      result.layers.forEach((layer, l) => {
        if (kind === 'ffn') layer.ffnNeurons.forEach((v, k) => (totals[l][k] += value(v)));
        else if (kind === 'reduced') layer.reducedDims.forEach((v, i) => (totals[l][i] += value(v)));
        else for (const o of layer.offsets) totals[l][units[l].indexOf(o.offset)] += value(o.relevance);
      });
    } else {
      const gradients = await targetGradients(model, ids, criterion === 'taylor' ? 'loss' : 'logit');
      const taylorLike = criterion === 'taylor' || criterion === 'taylor-logit';
      const T = ids.length;
      gradients.forEach((g, l) => {
        const out = totals[l];
        if (kind === 'windows') {
          const K = g.offsets.length;
          g.offsets.forEach((offset, k) => {
            let abs = 0;
            let sum = 0;
            for (let t = 0; t < T; t++) {
              abs += Math.abs(g.dMask[t * K + k]);
              sum += g.dMask[t * K + k];
            }
            out[units[l].indexOf(offset)] += taylorLike ? Math.abs(sum) : abs;
          });
          return;
        }
        const [a, da] = kind === 'ffn' ? [g.act, g.dAct] : [g.z, g.dz];
        const n = out.length;
        const taylor = new Float64Array(n);
        for (let t = 0; t < T; t++) {
          for (let k = 0; k < n; k++) {
            const v = a[t * n + k];
            const dv = da[t * n + k];
            if (criterion === 'gradient') out[k] += Math.abs(dv);
            else if (taylorLike) taylor[k] += v * dv;
            else out[k] += Math.abs(v) * columnNorms![l][k];
          }
        }
        if (taylorLike) for (let k = 0; k < n; k++) out[k] += Math.abs(taylor[k]);
      });
    }
    options.onSample?.(sampleIndex + 1, samples.length);
  }
  return totals;
}

/** Divides each layer's scores by the layer's sum of |score| (a layer of zeros stays zero). */
export function normalisePerLayer(scores: readonly Float64Array[]): Float64Array[] {
  return scores.map((layer) => {
    const total = layer.reduce((s, v) => s + Math.abs(v), 0);
    return total > 0 ? layer.map((v) => v / total) : Float64Array.from(layer);
  });
}

/** What each criterion computes, as the report states it (the module comment in one line each). */
export const CRITERION_DEFINITIONS: Readonly<Record<PruneCriterion, string>> = {
  lrp: 'lrp: |relevance| of the unit (LRP from the true next-token logits; per sample summed over positions, then |.|, summed over samples)',
  'lrp-signed': 'lrp-signed: signed relevance of the unit (per sample summed over positions, summed over samples): negative units rank lowest',
  taylor: 'taylor: |sum over positions of a·dC/da| per sample, C the next-token cross-entropy (Molchanov et al.), summed over samples',
  'taylor-logit': 'taylor-logit: |sum over positions of a·dL/da| per sample, L the sum of the true next-token logits, summed over samples',
  gradient: 'gradient: sum over positions and samples of |dL/da|, L the sum of the true next-token logits',
  magnitude: 'magnitude: L2 norm of the unit\'s weights',
  wina: 'wina: sum over positions and samples of |a| times the L2 norm of the weights that read a',
  random: 'random: uniform scores from the seed',
};

/** The scoring conventions a pruning report states. */
export function scoringConventions(criteria: readonly PruneCriterion[]): string[] {
  return [
    ...criteria.map((c) => CRITERION_DEFINITIONS[c]),
    'scores are normalised per layer (each divided by its layer\'s sum of |score|) and the lowest are removed first',
  ];
}
