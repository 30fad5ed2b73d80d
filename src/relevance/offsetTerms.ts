/**
 * Each window offset's share of a signal S_t on g_t = sum_k w_tk (W_plu p_hat_k(t) + b_plu)
 * (w_tk: offset k's weight in the mean at t, duplicates counted): w_tk (p_hat_k . c_t + b . S_t)
 * with c_t = W_plu^T S_t [P] and bs_t = b_plu . S_t given. For LRP, S = R_g / stab(g) (the
 * epsilon rule over the mean and W_plu); for gradients, S = dL/dg (the gradient of a mask on the
 * offset's term). Host, float64.
 */
import { planesAtOffset, type OffsetPlanes } from '../geometry/plucker';
import { planOffsets, type OffsetPlan } from '../model/offsets';
import type { LayerShape, PairingRule } from '../model/spec';

export interface OffsetTerms {
  plan: OffsetPlan;
  /** [T, K] w_tk (p_hat_k . c_t + bs_t), 0 where offset k has no partner. */
  perPosition: Float64Array;
  /** [K] summed over positions. */
  perOffset: Float64Array;
  /** Each offset's planes (plan order), for callers that go on with them (the LRP half rule). */
  planes: OffsetPlanes[];
  /** [P] sum over t, k of w_tk p_hat_k,q c_t,q (the coordinates' share, without the bias). */
  perPair: Float64Array;
}

export function offsetTerms(
  z: Float32Array,
  T: number,
  shape: LayerShape,
  pairing: PairingRule,
  c: Float32Array,
  bs: Float32Array,
): OffsetTerms {
  const plan = planOffsets(shape.windowSizes, T, pairing);
  const K = plan.offsets.length;
  const P = shape.pairCount;
  const perPosition = new Float64Array(T * K);
  const perOffset = new Float64Array(K);
  const perPair = new Float64Array(P);
  const layout = { reducedDim: shape.reducedDim, pairing };
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
      const term = wt * (dot + bs[t]);
      perPosition[t * K + k] = term;
      perOffset[k] += term;
    }
  }
  return { plan, perPosition, perOffset, perPair, planes: all };
}
