/**
 * Which window offsets of a Grassmann layer apply at which positions of a sequence. Each block has
 * its own window list (GrassmannSpec.layerShapes[l].windowSizes: one list for every block in a
 * trained checkpoint, per block in a structurally pruned one); duplicates count twice in the mean
 * over offsets, and offsets d >= T are skipped (grassmann-math.md §1). An empty list (or one whose
 * offsets are all >= T) gives K = 0: g = 0 at every position.
 */
import type { GrassmannSpec, PairingRule } from './spec';

/** Which window offsets apply where, for one sequence length. */
export interface OffsetPlan {
  /** Distinct offsets d < T, ascending (K of them). */
  offsets: number[];
  /** [T, K]: multiplicity of offset k / total multiplicity of the offsets valid at t; 0 if invalid. */
  weights: Float32Array;
  /** [T]: 1 where at least one offset is valid, else 0 (g_t = 0 there). */
  hasOffset: Float32Array;
}

/**
 * What each pairing rule means, in one place: the partner s of position t at offset d, and the
 * first position that has one ('previous': s = t - d, valid from t = d; 'next': s = t + d, valid
 * up to t = T - d - 1). ./layout.ts has the same as a tensor shift.
 */
export const PAIRING_POSITIONS: Readonly<Record<PairingRule, { partner(t: number, offset: number): number; first(offset: number): number }>> = {
  previous: { partner: (t, d) => t - d, first: (d) => d },
  next: { partner: (t, d) => t + d, first: () => 0 },
};

/** The position z_t is paired with at offset d (may lie outside the sequence). */
export const partnerPosition = (t: number, offset: number, pairing: PairingRule): number => PAIRING_POSITIONS[pairing].partner(t, offset);

/** First position and number of positions at which offset d has a partner inside [0, T). */
export function validPositions(offset: number, seqLen: number, pairing: PairingRule): { first: number; count: number } {
  const count = Math.max(0, seqLen - offset);
  return { first: PAIRING_POSITIONS[pairing].first(offset), count };
}

export function planOffsets(windowSizes: readonly number[], seqLen: number, pairing: PairingRule): OffsetPlan {
  const multiplicity = new Map<number, number>();
  for (const w of windowSizes) if (w < seqLen) multiplicity.set(w, (multiplicity.get(w) ?? 0) + 1);
  const offsets = [...multiplicity.keys()].sort((a, b) => a - b);
  const K = offsets.length;
  const weights = new Float32Array(seqLen * K);
  const hasOffset = new Float32Array(seqLen);
  const totals = new Float64Array(seqLen);
  offsets.forEach((d) => {
    const { first, count } = validPositions(d, seqLen, pairing);
    for (let t = first; t < first + count; t++) totals[t] += multiplicity.get(d)!;
  });
  offsets.forEach((d, k) => {
    const { first, count } = validPositions(d, seqLen, pairing);
    for (let t = first; t < first + count; t++) weights[t * K + k] = multiplicity.get(d)! / totals[t];
  });
  for (let t = 0; t < seqLen; t++) hasOffset[t] = totals[t] > 0 ? 1 : 0;
  return { offsets, weights, hasOffset };
}

/**
 * The offset plan of every block of `spec` for sequences of `seqLen` tokens (index = block).
 * Blocks with the same window list share one plan object.
 */
export function layerOffsetPlans(spec: Pick<GrassmannSpec, 'layerShapes' | 'variant'>, seqLen: number): OffsetPlan[] {
  const byList = new Map<string, OffsetPlan>();
  return spec.layerShapes.map((shape) => {
    const key = shape.windowSizes.join(',');
    let plan = byList.get(key);
    if (!plan) byList.set(key, (plan = planOffsets(shape.windowSizes, seqLen, spec.variant.pairing)));
    return plan;
  });
}

/** How block `layer` of `spec` forms its planes (for ./plucker.ts planesAtOffset). */
export function planeLayoutOf(spec: Pick<GrassmannSpec, 'layerShapes' | 'variant'>, layer: number): { reducedDim: number; pairing: PairingRule; normFloor: number } {
  return { reducedDim: spec.layerShapes[layer].reducedDim, pairing: spec.variant.pairing, normFloor: spec.variant.pluckerEps };
}
