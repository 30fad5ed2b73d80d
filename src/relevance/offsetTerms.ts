/**
 * Each window offset's share of a signal S_t on g_t (w_tk: offset k's weight in the mean at t,
 * duplicates counted; c_t = W_plu^T S_t [P] and bs_t = b_plu . S_t given):
 *   project-then-mean  g_t = sum_k w_tk (W_plu p_hat_k(t) + b_plu):  offset k gets w_tk (p_hat_k . c_t + bs_t)
 *   mean-then-project  g_t = W_plu sum_k w_tk p_hat_k(t) + b_plu:    offset k gets w_tk p_hat_k . c_t, and
 *                      b_plu (at every position) keeps bs_t itself
 * (../model/architecture.ts aggregation; where b_plu sits: ./layoutRules.ts AGGREGATION_RULES).
 * For LRP, S = R_g / stab(g) (the epsilon rule over the mean and W_plu); for gradients, S = dL/dg
 * (the gradient of a mask on the offset's term). p_hat = p / max(||p||, the model's Plücker eps).
 * Host, float64.
 */
import { planesAtOffset, type OffsetPlanes } from '../model/plucker';
import { AGGREGATION_KERNELS } from '../model/layout';
import { planeLayoutOf, planOffsets, type OffsetPlan } from '../model/offsets';
import type { GrassmannSpec } from '../model/spec';
import { AGGREGATION_RULES } from './layoutRules';

export interface OffsetTerms {
  plan: OffsetPlan;
  /** [T, K] offset k's share at t (see the module comment), 0 where offset k has no partner. */
  perPosition: Float64Array;
  /** [K] summed over positions. */
  perOffset: Float64Array;
  /** Each offset's planes (plan order), for callers that go on with them (the LRP half rule). */
  planes: OffsetPlanes[];
  /** [P] sum over t, k of w_tk p_hat_k,q c_t,q (the coordinates' share, without the bias). */
  perPair: Float64Array;
  /** sum over t of (b_plu's weight at t) bs_t: b_plu's share in all (inside perOffset under project-then-mean). */
  bias: number;
}

/** The offset terms of block `layer` of `spec` for one sequence of T states z [T, r_l]. */
export function offsetTerms(
  spec: Pick<GrassmannSpec, 'layerShapes' | 'variant'>,
  layer: number,
  z: Float32Array,
  T: number,
  c: Float32Array,
  bs: Float32Array,
): OffsetTerms {
  const shape = spec.layerShapes[layer];
  const plan = planOffsets(shape.windowSizes, T, spec.variant.pairing);
  const biasInTerms = AGGREGATION_RULES[spec.variant.aggregation].biasInOffsetTerms;
  const K = plan.offsets.length;
  const P = shape.pairCount;
  const perPosition = new Float64Array(T * K);
  const perOffset = new Float64Array(K);
  const perPair = new Float64Array(P);
  const layout = planeLayoutOf(spec, layer);
  const all: OffsetPlanes[] = [];
  for (let k = 0; k < K; k++) {
    const planes = planesAtOffset(z, T, plan.offsets[k], layout);
    all.push(planes);
    for (let row = 0; row < planes.count; row++) {
      const t = planes.first + row;
      const wt = plan.weights[t * K + k];
      if (wt === 0) continue;
      let dot = 0;
      for (let q = 0; q < P; q++) {
        const v = planes.coordinates[row * P + q] * c[t * P + q];
        perPair[q] += wt * v;
        dot += v;
      }
      const term = wt * (biasInTerms ? dot + bs[t] : dot);
      perPosition[t * K + k] = term;
      perOffset[k] += term;
    }
  }
  const biasWeight = AGGREGATION_KERNELS[spec.variant.aggregation].biasWeight(plan, T);
  let bias = 0;
  for (let t = 0; t < T; t++) bias += biasWeight[t] * bs[t];
  return { plan, perPosition, perOffset, perPair, planes: all, bias };
}
