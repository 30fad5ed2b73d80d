/**
 * Which window offsets of a Grassmann layer apply at which positions of a sequence. The window
 * list is one list for every layer; duplicates count twice in the mean over offsets, and offsets
 * d >= T are skipped (grassmann-math.md §1).
 */
import type { PairingRule } from './spec';

/** Which window offsets apply where, for one sequence length. */
export interface OffsetPlan {
  /** Distinct offsets d < T, ascending (K of them). */
  offsets: number[];
  /** [T, K]: multiplicity of offset k / total multiplicity of the offsets valid at t; 0 if invalid. */
  weights: Float32Array;
  /** [T]: 1 where at least one offset is valid, else 0 (g_t = 0 there). */
  hasOffset: Float32Array;
}

/** First position and number of positions at which offset d has a partner inside [0, T). */
export function validPositions(offset: number, seqLen: number, pairing: PairingRule): { first: number; count: number } {
  const count = Math.max(0, seqLen - offset);
  return { first: pairing === 'previous' ? offset : 0, count };
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
