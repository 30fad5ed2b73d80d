/**
 * Floating-point operation counts of one GrassmannGPT forward pass, from shapes alone.
 * A matrix product [m,k] x [k,n] counts 2*m*n*k; element-wise work (LayerNorm, GELU, gathers,
 * the Plücker products themselves) is not counted, as is usual for model FLOPs.
 *
 * Two counts are given:
 *  - `executed`: the contractions ./grassmann.ts actually performs. It averages the normalised
 *    Plücker vectors over the window offsets BEFORE applying W_plu (exact by linearity:
 *    mean_d(W p_d + b) = W mean_d(p_d) + b); the mean is one wedge z_t ^ m_t with m_t a weighted
 *    sum of the K partner states (2*K*r per position), then one product per layer with b_plu
 *    folded in as an extra input: [T, P+1] x [P+1, d] with the host kernels (wasm, cpu), or
 *    [T, r^2+1] x [r^2+1, d] on the outer product z m^T with TensorFlow.js ops (./blockOps.ts).
 *  - `nominal`: the paper's equations as written: W_plu applied to every (offset, position) pair
 *    valid in the sequence, on the r(r-1)/2 Plücker coordinates.
 * Report GFLOP/s from `executed` (work done); `nominal` tells how much of it the reformulation saved.
 */
import type { BlockOpsKind } from './blockOps';
import type { ModelDims } from './spec';

export interface FlopCount {
  total: number;
  /** Per part, summed over layers: reduce, plucker, gate, ffn, lmHead (and offsetMean for executed). */
  parts: Record<string, number>;
}

export interface ForwardFlops {
  executed: FlopCount;
  nominal: FlopCount;
  /** Number of (offset, position) pairs with a valid partner, per layer. */
  validPairRows: number;
  /** Distinct offsets d < T (duplicates in the window list are computed once). */
  distinctOffsets: number;
}

const matmul = (m: number, k: number, n: number): number => 2 * m * k * n;

function total(parts: Record<string, number>): number {
  return Object.values(parts).reduce((s, v) => s + v, 0);
}

/**
 * FLOPs of one forward pass over `batch` sequences of `seqLen` tokens, with the block ops `ops`
 * (host kernels or TensorFlow.js ops; only the executed Plücker product differs).
 * Offsets d >= seqLen are skipped, as in the model (either pairing direction has the same counts).
 */
export function forwardFlops(dims: ModelDims, seqLen: number, windowSizes: readonly number[], batch = 1, ops: BlockOpsKind = 'host'): ForwardFlops {
  const rows = batch * seqLen;
  const { modelDim: d, reducedDim: r, pairCount: P, ffDim: f, vocabSize: V, layers: L } = dims;
  const valid = windowSizes.filter((w) => w < seqLen);
  const distinct = [...new Set(valid)];
  const validPairRows = batch * valid.reduce((s, w) => s + (seqLen - w), 0);

  const shared = {
    reduce: L * matmul(rows, d, r),
    gate: L * matmul(rows, 2 * d, d),
    ffn: L * (matmul(rows, d, f) + matmul(rows, f, d)),
    lmHead: matmul(rows, d, V),
  };
  const executedParts = {
    ...shared,
    // weighted mean partner over the distinct offsets: per position [1,K] x [K,r]
    offsetMean: L * rows * matmul(1, distinct.length, r),
    plucker: L * matmul(rows, (ops === 'host' ? P : r * r) + 1, d),
  };
  const nominalParts = {
    ...shared,
    plucker: L * matmul(validPairRows, P, d),
  };
  return {
    executed: { total: total(executedParts), parts: executedParts },
    nominal: { total: total(nominalParts), parts: nominalParts },
    validPairRows,
    distinctOffsets: distinct.length,
  };
}
